-- AlterTable
ALTER TABLE "Operation" ADD COLUMN "step" TEXT;
