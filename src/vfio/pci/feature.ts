/**
 * VFIO_DEVICE_FEATURE on a vfio-pci device fd (drivers/vfio/vfio_main.c vfio_ioctl_device_feature,
 * drivers/vfio/pci/vfio_pci_core.c vfio_pci_core_ioctl_feature, vfio_check_feature). The model's
 * devices are plain vfio-pci functions: no migration driver (mig_ops), no device DMA logging
 * (log_ops), no SR-IOV VF token; they do support the runtime low-power features, which take SET only:
 * entering twice without an exit is -EINVAL (pm_runtime_engaged), a negative wakeup eventfd too. What
 * the low-power state does to the device (a runtime suspend that ends at the next access, which signals
 * the wakeup eventfd) is not modelled.
 * Checked in conformance/golden (device-feature.iovx) on 6.1 and 6.12, x86_64 and arm64.
 */
import { ERRNO } from '../../base/errno.js';
import {
  VFIO_DEVICE_FEATURE_GET,
  VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
  VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP,
  VFIO_DEVICE_FEATURE_LOW_POWER_EXIT,
  VFIO_DEVICE_FEATURE_MASK,
  VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
} from '../../uapi/vfio-device.js';

/** offsetofend(struct vfio_device_feature, flags) */
const FEATURE_MINSZ = 8;
/** struct vfio_device_low_power_entry_with_wakeup { s32 wakeup_eventfd; u32 reserved; } */
const WAKEUP_MINSZ = 8;

/**
 * vfio_check_feature: -EINVAL for an operation the feature does not offer, 0 for a PROBE, -EINVAL
 * without GET or SET, -EINVAL for a payload below `minsz`, else 1 (go on).
 */
function checkFeature(flags: number, payload: number, supported: number, minsz: number): number {
  if ((flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET) & ~supported) !== 0) return -ERRNO.EINVAL;
  if ((flags & VFIO_DEVICE_FEATURE_PROBE) !== 0) return 0;
  if ((flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET)) === 0) return -ERRNO.EINVAL;
  if (payload < minsz) return -ERRNO.EINVAL;
  return 1;
}

/** vfio_pci_runtime_pm_entry: -EINVAL when already in low power. */
function runtimePmEntry(dev: FeatureDevice): number {
  if (dev.lowPower) return -ERRNO.EINVAL;
  dev.lowPower = true;
  return 0;
}

/** What the feature handlers need from the device: eventfd_ctx_fdget, and its low-power flag. */
export interface FeatureDevice {
  /** eventfd_ctx_fdget: 0 or -errno. */
  isEventfd(fd: number): number;
  /** vdev->pm_runtime_engaged */
  lowPower: boolean;
}

/** The device fd's VFIO_DEVICE_FEATURE: 0 or -errno. */
export function deviceFeature(arg: Uint8Array, dev: FeatureDevice): number {
  if (arg.length < FEATURE_MINSZ) return -ERRNO.EFAULT;
  const v = new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
  const argsz = v.getUint32(0, true);
  const flags = v.getUint32(4, true);
  if (argsz < FEATURE_MINSZ) return -ERRNO.EINVAL;
  const known =
    VFIO_DEVICE_FEATURE_MASK | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE;
  if ((flags & ~known) !== 0) return -ERRNO.EINVAL;
  // GET and SET only together with PROBE
  const getSet = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET;
  if ((flags & VFIO_DEVICE_FEATURE_PROBE) === 0 && (flags & getSet) === getSet) return -ERRNO.EINVAL;
  const payload = argsz - FEATURE_MINSZ;
  switch (flags & VFIO_DEVICE_FEATURE_MASK) {
    case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY: {
      const rc = checkFeature(flags, payload, VFIO_DEVICE_FEATURE_SET, 0);
      return rc !== 1 ? rc : runtimePmEntry(dev);
    }
    case VFIO_DEVICE_FEATURE_LOW_POWER_EXIT: {
      // vfio_pci_core_pm_exit: leaves low power if engaged; 0 either way
      const rc = checkFeature(flags, payload, VFIO_DEVICE_FEATURE_SET, 0);
      if (rc !== 1) return rc;
      dev.lowPower = false;
      return 0;
    }
    case VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP: {
      const rc = checkFeature(flags, payload, VFIO_DEVICE_FEATURE_SET, WAKEUP_MINSZ);
      if (rc !== 1) return rc;
      if (arg.length < FEATURE_MINSZ + WAKEUP_MINSZ) return -ERRNO.EFAULT;
      const fd = v.getInt32(FEATURE_MINSZ, true);
      if (fd < 0) return -ERRNO.EINVAL;
      const e = dev.isEventfd(fd);
      return e !== 0 ? e : runtimePmEntry(dev);
    }
    default:
      // migration (no mig_ops), DMA logging (no log_ops), the VF token (no SR-IOV), unknown features
      return -ERRNO.ENOTTY;
  }
}
