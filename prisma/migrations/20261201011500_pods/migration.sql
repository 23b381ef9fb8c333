-- CreateTable
CREATE TABLE "Pod" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "vcpus" INTEGER NOT NULL,
    "memoryMib" INTEGER NOT NULL,
    "pids" INTEGER NOT NULL,
    "hostId" TEXT NOT NULL,
    "networkId" TEXT,
    "vmId" TEXT,
    "state" TEXT NOT NULL DEFAULT 'creating',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Pod_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Pod_hostId_fkey" FOREIGN KEY ("hostId") REFERENCES "Host" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Pod_networkId_fkey" FOREIGN KEY ("networkId") REFERENCES "Network" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Pod_vmId_fkey" FOREIGN KEY ("vmId") REFERENCES "Vm" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- RedefineTable (SQLite adds a foreign key only by rebuilding the table)
CREATE TABLE "new_Container" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "vmId" TEXT NOT NULL,
    "imageId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "command" JSONB NOT NULL,
    "env" JSONB NOT NULL,
    "workdir" TEXT,
    "ports" JSONB,
    "volumes" JSONB,
    "docker" JSONB,
    "state" TEXT NOT NULL DEFAULT 'created',
    "exitCode" INTEGER,
    "oomKilled" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    "podId" TEXT,
    "podLimits" JSONB,
    CONSTRAINT "Container_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Container_vmId_fkey" FOREIGN KEY ("vmId") REFERENCES "Vm" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Container_imageId_fkey" FOREIGN KEY ("imageId") REFERENCES "Image" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Container_podId_fkey" FOREIGN KEY ("podId") REFERENCES "Pod" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_Container" ("id", "tenantId", "vmId", "imageId", "name", "command", "env", "workdir", "ports", "volumes", "docker", "state", "exitCode", "oomKilled", "createdAt", "updatedAt", "startedAt", "finishedAt")
SELECT "id", "tenantId", "vmId", "imageId", "name", "command", "env", "workdir", "ports", "volumes", "docker", "state", "exitCode", "oomKilled", "createdAt", "updatedAt", "startedAt", "finishedAt" FROM "Container";
DROP TABLE "Container";
ALTER TABLE "new_Container" RENAME TO "Container";
CREATE INDEX "Container_tenantId_state_idx" ON "Container"("tenantId", "state");
CREATE INDEX "Container_vmId_idx" ON "Container"("vmId");
CREATE INDEX "Container_imageId_idx" ON "Container"("imageId");
CREATE UNIQUE INDEX "Container_tenantId_name_key" ON "Container"("tenantId", "name");

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
