-- DropIndex
DROP INDEX "Template_hostId_imageId_vcpus_memoryMib_key";

-- AlterTable
ALTER TABLE "Template" ADD COLUMN "kind" TEXT NOT NULL DEFAULT 'build';
ALTER TABLE "Template" ADD COLUMN "origin" JSONB;
ALTER TABLE "Template" ADD COLUMN "parentTemplateId" TEXT;
ALTER TABLE "Template" ADD COLUMN "buildSlot" TEXT NOT NULL DEFAULT 'build';

-- CreateIndex
CREATE UNIQUE INDEX "Template_hostId_imageId_vcpus_memoryMib_buildSlot_key" ON "Template"("hostId", "imageId", "vcpus", "memoryMib", "buildSlot");
