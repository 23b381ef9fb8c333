-- AlterTable
ALTER TABLE "Container" ADD COLUMN "podLimits" JSONB;
ALTER TABLE "Container" ADD COLUMN "podId" TEXT;

-- CreateTable
CREATE TABLE "Pod" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "vcpus" INTEGER NOT NULL,
    "memoryMib" INTEGER NOT NULL,
    "pids" INTEGER NOT NULL,
    "hostId" TEXT NOT NULL,
    "networkId" TEXT,
    "vmId" TEXT,
    "state" TEXT NOT NULL DEFAULT 'creating',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Pod_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Pod_vmId_key" ON "Pod"("vmId");

-- CreateIndex
CREATE INDEX "Pod_hostId_idx" ON "Pod"("hostId");

-- CreateIndex
CREATE INDEX "Pod_networkId_idx" ON "Pod"("networkId");

-- CreateIndex
CREATE UNIQUE INDEX "Pod_tenantId_name_key" ON "Pod"("tenantId", "name");

-- CreateIndex
CREATE INDEX "Container_podId_idx" ON "Container"("podId");

-- AddForeignKey
ALTER TABLE "Container" ADD CONSTRAINT "Container_podId_fkey" FOREIGN KEY ("podId") REFERENCES "Pod"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Pod" ADD CONSTRAINT "Pod_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Pod" ADD CONSTRAINT "Pod_hostId_fkey" FOREIGN KEY ("hostId") REFERENCES "Host"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Pod" ADD CONSTRAINT "Pod_networkId_fkey" FOREIGN KEY ("networkId") REFERENCES "Network"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Pod" ADD CONSTRAINT "Pod_vmId_fkey" FOREIGN KEY ("vmId") REFERENCES "Vm"("id") ON DELETE SET NULL ON UPDATE CASCADE;
