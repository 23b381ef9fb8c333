-- CreateTable
CREATE TABLE "Desktop" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "containerId" TEXT,
    "templateId" TEXT NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "vncPassword" TEXT,
    "tokenHash" TEXT,
    "tokenExpiresAt" DATETIME,
    "lastActiveAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "idleWarnedAt" DATETIME,
    "pooled" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE UNIQUE INDEX "Desktop_containerId_key" ON "Desktop"("containerId");

-- CreateIndex
CREATE INDEX "Desktop_tenantId_idx" ON "Desktop"("tenantId");
