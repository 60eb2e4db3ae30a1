/**
 * vfio-pci's permission tables for config space (drivers/vfio/pci/vfio_pci_config.c, struct perm_bits
 * and the init_pci_*_perm functions): per byte of a capability, which bits are virtualised (read from
 * and written to vconfig) and which are writable (virtual ones to vconfig, the others to the device).
 * A capability without a table reads the device directly (its ID and next pointer from vconfig) and
 * drops writes; bytes outside every capability pass to the device both ways.
 */
import { PCI_COMMAND_INTX_DISABLE } from '../../pci/msi-device.js';

/** One capability's bits: `virt[i]` and `write[i]` for byte i of the capability. */
export interface PermBits {
  readonly virt: Uint8Array;
  readonly write: Uint8Array;
}

function table(size: number): { p: PermBits; setb: Set; setw: Set; setd: Set } {
  // alloc_perm_bits: rounded up to a dword, nothing virtual, nothing writable
  const n = (size + 3) & ~3;
  const p = { virt: new Uint8Array(n), write: new Uint8Array(n) };
  const put = (bytes: number) => (off: number, virt: number, write: number) => {
    for (let i = 0; i < bytes; i++) {
      p.virt[off + i] = (virt >>> (8 * i)) & 0xff;
      p.write[off + i] = (write >>> (8 * i)) & 0xff;
    }
  };
  return { p, setb: put(1), setw: put(2), setd: put(4) };
}
type Set = (off: number, virt: number, write: number) => void;

const ALL = 0xffffffff;

/** init_pci_cap_basic_perm: the standard header. */
export const BASIC_PERMS: PermBits = (() => {
  const { p, setb, setw, setd } = table(64);
  setw(0x00, 0xffff, 0); // vendor
  setw(0x02, 0xffff, 0); // device
  setw(0x04, PCI_COMMAND_INTX_DISABLE, 0xffff); // command: INTx disable virtual
  setw(0x06, 0x0010, 0); // status: capability list virtual
  setb(0x0c, 0, 0xff); // cache line size
  setb(0x0d, 0, 0xff); // latency timer
  setb(0x0f, 0, 0xff); // BIST
  for (let off = 0x10; off <= 0x24; off += 4) setd(off, ALL, ALL); // BARs
  setd(0x30, ALL, ALL); // expansion ROM
  setb(0x34, 0xff, 0); // capability pointer
  setb(0x3c, 0xff, 0xff); // interrupt line
  setb(0x3d, 0xff, 0); // interrupt pin
  return p;
})();

/** PMC PME_Support, PMCSR PME_En and PME_Status, the state field. */
export const PCI_PM_CAP_PME_MASK = 0xf800;
export const PCI_PM_CTRL_PME_ENABLE = 0x0100;
export const PCI_PM_CTRL_PME_STATUS = 0x8000;

/** init_pci_cap_pm_perm: next virtual, PME bits virtual, the state through pci_set_power_state. */
export const PM_PERMS: PermBits = (() => {
  const { p, setb, setw, setd } = table(8);
  setb(1, 0xff, 0);
  setw(2, PCI_PM_CAP_PME_MASK, 0);
  const pme = PCI_PM_CTRL_PME_ENABLE | PCI_PM_CTRL_PME_STATUS;
  setd(4, pme, ~(pme | 0x3) >>> 0);
  return p;
})();

/** PCI_EXP_DEVCTL fields. */
export const PCI_EXP_DEVCTL_BCR_FLR = 0x8000;
const PCI_EXP_DEVCTL_READRQ = 0x7000;
const PCI_EXP_DEVCTL_PAYLOAD = 0x00e0;
const PCI_EXP_DEVCTL_PHANTOM = 0x0200;

/** init_pci_cap_exp_perm: device control (FLR, payload and read request size virtual, no phantom functions) and device control 2 (not ARI). */
export const EXP_PERMS: PermBits = (() => {
  const { p, setb, setw } = table(0x3c); // PCI_CAP_EXP_ENDPOINT_SIZEOF_V2
  setb(1, 0xff, 0);
  setw(
    8,
    PCI_EXP_DEVCTL_BCR_FLR | PCI_EXP_DEVCTL_PAYLOAD | PCI_EXP_DEVCTL_READRQ,
    ~PCI_EXP_DEVCTL_PHANTOM & 0xffff,
  );
  setw(0x28, 0, ~0x0020 & 0xffff);
  return p;
})();

/** init_pci_cap_msi_perm for one device's MSI capability (its length follows the flags). */
export function msiPerms(len: number, flags: number): PermBits {
  const { p, setb, setw, setd } = table(len);
  setb(1, 0xff, 0);
  setb(2, 0xff, 0xff); // the flags' low byte (the upper one is reserved)
  setd(4, ALL, ALL);
  const a64 = (flags & 0x80) !== 0;
  const mask = (flags & 0x100) !== 0;
  if (a64) {
    setd(8, ALL, ALL);
    setw(12, 0xffff, 0xffff);
    if (mask) {
      setd(16, 0, ALL);
      setd(20, 0, ALL);
    }
  } else {
    setw(8, 0xffff, 0xffff);
    if (mask) {
      setd(12, 0, ALL);
      setd(16, 0, ALL);
    }
  }
  return p;
}

/** init_pci_ext_cap_err_perm: AER's header virtual; error masks, severities, statuses, ECRC enables. */
export const ERR_PERMS: PermBits = (() => {
  const { p, setd } = table(0x2c); // PCI_ERR_ROOT_COMMAND
  setd(0, ALL, 0);
  const unc = 0x03fff031; // UND DLP SURPDN POISON FCP COMP_TIME COMP_ABORT UNX_COMP RX_OVER MALF ECRC UNSUP ACSV INTN MCBTLP ATOMEG TLPPRE
  setd(0x04, 0, unc);
  setd(0x08, 0, unc);
  setd(0x0c, 0, unc);
  const cor = 0xf1c1; // RCVR BAD_TLP BAD_DLLP REP_ROLL REP_TIMER ADV_NFAT INTERNAL LOG_OVER
  setd(0x10, 0, cor);
  setd(0x14, 0, cor);
  setd(0x18, 0, 0x140); // ECRC generation and check enable
  return p;
})();

/** init_pci_ext_cap_pwr_perm: header virtual, the data select writable. */
export const PWR_PERMS: PermBits = (() => {
  const { p, setd, setb } = table(0x10);
  setd(0, ALL, 0);
  setb(4, 0, 0xff);
  return p;
})();

/** pci_cap_length: fixed lengths, 0xff for variable, 0 (or absent) for hidden. */
export const PCI_CAP_LENGTH: Readonly<Record<number, number>> = {
  0x01: 8, // PM
  0x02: 12, // AGP
  0x03: 8, // VPD
  0x05: 0xff, // MSI
  0x07: 0xff, // PCI-X
  0x08: 0xff, // HyperTransport
  0x09: 0xff, // vendor specific
  0x10: 0xff, // PCI Express
  0x11: 12, // MSI-X
  0x12: 0xff, // SATA
  0x13: 6, // Advanced Features
};

/** pci_ext_cap_length for the extended capabilities whose length is fixed; 0 (or absent) hides. */
export const PCI_EXT_CAP_LENGTH: Readonly<Record<number, number>> = {
  0x01: 0x2c, // AER
  0x03: 12, // DSN
  0x04: 0x10, // power budgeting
  0x0e: 8, // ARI
  0x0f: 8, // ATS
  0x10: 0x40, // SR-IOV
  0x13: 0x10, // PRI
  0x18: 8, // LTR
};
