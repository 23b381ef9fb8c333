// What the API needs to know of the desktop image's session
// (images/desktop/session.ts is the source; re-exported so services/api does
// not reach into images/ for more than these constants).
export { DESKTOP_PASSWORD_FILE, DESKTOP_VNC_PORT } from '../../../images/desktop/session.js';

/** The image `forkd image build desktop --import` makes, used when a create names none. */
export const DEFAULT_DESKTOP_IMAGE = 'forkd/desktop:latest';
