/**
 * The model as a conformance target. The model's uAPI layer (vfio's `VfioSystem`: open/ioctl/close on
 * uapi bytes, plus the sysfs view of groups and module parameters) plugs in here; until it is on main
 * there is no model target and the suite reports every pair as skipped (the golden integrity checks
 * still run). See conformance/README.md, "Plugging in the model".
 */

import type { TargetFactory } from './runner.js';

export const modelTargetFactory: TargetFactory = () => undefined;
