/**
 * `npm test`'s first step: as root on Debian, installs every Debian package the suite lacks in
 * one go (tests/support/test-packages.ts says why). Anywhere else it does nothing: each part
 * says for itself what is missing and what to run.
 */
import { aptInstall, canApt } from '../tests/support/debian.ts';
import { missingForEndToEnd, missingForIntegration } from '../tests/support/test-packages.ts';

if (canApt()) {
  // The network lab needs root, as installing does: here both hold.
  const wanted = [...missingForIntegration(), ...missingForEndToEnd()];
  if (wanted.length > 0) {
    console.log(`The tests need ${wanted.map((entry) => entry.package).join(', ')}: installing them with apt…`);
    aptInstall(wanted);
  }
}
