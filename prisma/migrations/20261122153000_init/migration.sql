-- CreateTable
CREATE TABLE "Tenant" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "maxVms" INTEGER NOT NULL DEFAULT 10,
    "maxMemoryMib" INTEGER NOT NULL DEFAULT 8192,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT,
    "role" TEXT NOT NULL,
    "name" TEXT,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" DATETIME,
    "revokedAt" DATETIME,
    CONSTRAINT "ApiKey_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Host" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "address" TEXT NOT NULL,
    "accel" TEXT NOT NULL,
    "cpus" INTEGER NOT NULL,
    "memoryMib" INTEGER NOT NULL,
    "libvirtVersion" TEXT NOT NULL,
    "qemuVersion" TEXT NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'up',
    "lastSeenAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Image" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "digest" TEXT NOT NULL,
    "sizeBytes" BIGINT NOT NULL,
    "layers" JSONB NOT NULL,
    "config" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Image_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ImageTag" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "imageId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "tag" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "ImageTag_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "ImageTag_imageId_fkey" FOREIGN KEY ("imageId") REFERENCES "Image" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Template" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "hostId" TEXT NOT NULL,
    "imageId" TEXT,
    "vcpus" INTEGER NOT NULL,
    "memoryMib" INTEGER NOT NULL,
    "accel" TEXT NOT NULL,
    "qemuVersion" TEXT NOT NULL,
    "machineType" TEXT NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'building',
    "memoryFile" TEXT,
    "stateFile" TEXT,
    "disk" TEXT,
    "checksums" JSONB,
    "poolSize" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "readyAt" DATETIME,
    CONSTRAINT "Template_hostId_fkey" FOREIGN KEY ("hostId") REFERENCES "Host" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Template_imageId_fkey" FOREIGN KEY ("imageId") REFERENCES "Image" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Vm" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "hostId" TEXT NOT NULL,
    "templateId" TEXT,
    "domainName" TEXT NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'creating',
    "vcpus" INTEGER NOT NULL,
    "memoryMib" INTEGER NOT NULL,
    "mac" TEXT NOT NULL,
    "bootMode" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "startedAt" DATETIME,
    "stoppedAt" DATETIME,
    CONSTRAINT "Vm_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Vm_hostId_fkey" FOREIGN KEY ("hostId") REFERENCES "Host" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Vm_templateId_fkey" FOREIGN KEY ("templateId") REFERENCES "Template" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Container" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "vmId" TEXT NOT NULL,
    "imageId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "command" JSONB NOT NULL,
    "env" JSONB NOT NULL,
    "workdir" TEXT,
    "ports" JSONB,
    "state" TEXT NOT NULL DEFAULT 'created',
    "exitCode" INTEGER,
    "oomKilled" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "Container_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Container_vmId_fkey" FOREIGN KEY ("vmId") REFERENCES "Vm" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Container_imageId_fkey" FOREIGN KEY ("imageId") REFERENCES "Image" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Operation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT,
    "hostId" TEXT,
    "kind" TEXT NOT NULL,
    "targetId" TEXT,
    "state" TEXT NOT NULL DEFAULT 'queued',
    "input" JSONB,
    "result" JSONB,
    "errorCode" TEXT,
    "errorMessage" TEXT,
    "progress" INTEGER NOT NULL DEFAULT 0,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "Operation_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Operation_hostId_fkey" FOREIGN KEY ("hostId") REFERENCES "Host" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);

-- CreateIndex
CREATE UNIQUE INDEX "Tenant_name_key" ON "Tenant"("name");

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_hash_key" ON "ApiKey"("hash");

-- CreateIndex
CREATE INDEX "ApiKey_tenantId_idx" ON "ApiKey"("tenantId");

-- CreateIndex
CREATE UNIQUE INDEX "Host_name_key" ON "Host"("name");

-- CreateIndex
CREATE INDEX "Host_state_idx" ON "Host"("state");

-- CreateIndex
CREATE UNIQUE INDEX "Image_tenantId_digest_key" ON "Image"("tenantId", "digest");

-- CreateIndex
CREATE INDEX "ImageTag_imageId_idx" ON "ImageTag"("imageId");

-- CreateIndex
CREATE UNIQUE INDEX "ImageTag_tenantId_name_tag_key" ON "ImageTag"("tenantId", "name", "tag");

-- CreateIndex
CREATE INDEX "Template_hostId_state_idx" ON "Template"("hostId", "state");

-- CreateIndex
CREATE INDEX "Template_imageId_idx" ON "Template"("imageId");

-- CreateIndex
CREATE UNIQUE INDEX "Template_hostId_imageId_vcpus_memoryMib_key" ON "Template"("hostId", "imageId", "vcpus", "memoryMib");

-- CreateIndex
CREATE UNIQUE INDEX "Vm_domainName_key" ON "Vm"("domainName");

-- CreateIndex
CREATE UNIQUE INDEX "Vm_mac_key" ON "Vm"("mac");

-- CreateIndex
CREATE INDEX "Vm_tenantId_state_idx" ON "Vm"("tenantId", "state");

-- CreateIndex
CREATE INDEX "Vm_hostId_state_idx" ON "Vm"("hostId", "state");

-- CreateIndex
CREATE INDEX "Vm_templateId_idx" ON "Vm"("templateId");

-- CreateIndex
CREATE INDEX "Container_tenantId_state_idx" ON "Container"("tenantId", "state");

-- CreateIndex
CREATE INDEX "Container_vmId_idx" ON "Container"("vmId");

-- CreateIndex
CREATE INDEX "Container_imageId_idx" ON "Container"("imageId");

-- CreateIndex
CREATE UNIQUE INDEX "Container_tenantId_name_key" ON "Container"("tenantId", "name");

-- CreateIndex
CREATE INDEX "Operation_tenantId_createdAt_idx" ON "Operation"("tenantId", "createdAt");

-- CreateIndex
CREATE INDEX "Operation_hostId_state_idx" ON "Operation"("hostId", "state");

-- CreateIndex
CREATE INDEX "Operation_targetId_idx" ON "Operation"("targetId");

-- CreateIndex
CREATE INDEX "Operation_state_createdAt_idx" ON "Operation"("state", "createdAt");
