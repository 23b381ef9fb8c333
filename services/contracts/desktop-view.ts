// A desktop as GET /v1/desktops shows it: written by the API (services/api/desktops/),
// read by the CLI (`forkd desktop`), so the two cannot drift apart.
export interface DesktopView {
  id: string;
  tenantId: string;
  /** creating → running; or the container's state when it ended. */
  state: string;
  containerId: string | null;
  templateId: string;
  width: number;
  height: number;
  createdAt: string;
  lastActiveAt: string;
}
