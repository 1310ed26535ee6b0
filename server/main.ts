/** `npm start`: the tracker, configured by environment variables (see README). */
import { runTracker } from './run.ts';

runTracker(process.env).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
