/** VMM guest memory maps, the conflict checker and the planner (pure, browser-safe). */
export * from './types.js';
export * from './registry.js';
export * from './check.js';
export * from './plan.js';
export * from './describe.js';
export * from './explain.js';
export * from './memlock.js';
export * from './host-defaults.js';
export * from './regions-host.js';
export { AMD_HT_START, AMD_HT_END, AMD_ABOVE_1TB_START, QEMU_PC, QEMU_Q35, QEMU_VIRT } from './qemu.js';
export * from './rust-vmms.js';
export * from './qemu-cmdline.js';
export * from './libvirt-xml.js';
export * from './vmm-cmdline.js';
export * from './rust-vmm-cmdline.js';
