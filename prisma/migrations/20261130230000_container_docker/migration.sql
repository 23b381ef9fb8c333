-- AlterTable
ALTER TABLE "Container" ADD COLUMN "docker" JSONB;
