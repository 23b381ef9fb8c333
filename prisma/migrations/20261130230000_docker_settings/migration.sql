-- AlterTable
ALTER TABLE "Container" ADD COLUMN "docker" JSONB;

-- AlterTable
ALTER TABLE "Network" ADD COLUMN "labels" JSONB;
