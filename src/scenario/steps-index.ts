/**
 * Every module that registers scenario steps. parseScenario imports this file, so a step module is
 * known as soon as it is listed here (one import line per module).
 */
import './steps.js';
import './steps-msi.js';
import './steps-device.js';
import './steps-task.js';
import './steps-iommufd.js';
import '../designs/steps-designs.js';
