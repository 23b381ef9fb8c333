-- DropIndex
DROP INDEX "Template_hostId_imageId_vcpus_memoryMib_key";

-- AlterTable
ALTER TABLE "Template" ADD COLUMN     "buildSlot" TEXT NOT NULL DEFAULT 'build',
ADD COLUMN     "kind" TEXT NOT NULL DEFAULT 'build',
ADD COLUMN     "origin" JSONB,
ADD COLUMN     "parentTemplateId" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "Template_hostId_imageId_vcpus_memoryMib_buildSlot_key" ON "Template"("hostId", "imageId", "vcpus", "memoryMib", "buildSlot");
