-- AlterTable
ALTER TABLE "Container" ADD COLUMN "volumes" JSONB;

-- CreateTable
CREATE TABLE "Volume" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "sizeMib" INTEGER NOT NULL,
    "hostId" TEXT NOT NULL,
    "labels" JSONB,
    "attachedContainerId" TEXT,
    "attachedVmId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Volume_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Volume_hostId_idx" ON "Volume"("hostId");

-- CreateIndex
CREATE INDEX "Volume_attachedContainerId_idx" ON "Volume"("attachedContainerId");

-- CreateIndex
CREATE INDEX "Volume_attachedVmId_idx" ON "Volume"("attachedVmId");

-- CreateIndex
CREATE UNIQUE INDEX "Volume_tenantId_name_key" ON "Volume"("tenantId", "name");

-- AddForeignKey
ALTER TABLE "Volume" ADD CONSTRAINT "Volume_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Volume" ADD CONSTRAINT "Volume_hostId_fkey" FOREIGN KEY ("hostId") REFERENCES "Host"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Volume" ADD CONSTRAINT "Volume_attachedContainerId_fkey" FOREIGN KEY ("attachedContainerId") REFERENCES "Container"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Volume" ADD CONSTRAINT "Volume_attachedVmId_fkey" FOREIGN KEY ("attachedVmId") REFERENCES "Vm"("id") ON DELETE SET NULL ON UPDATE CASCADE;
