/*
 * iovaexec's iommufd operations (included by iovaexec.c, which owns the slots, field parsing and
 * printing helpers). The structs are declared here from the 6.12 uAPI (include/uapi/linux/iommufd.h
 * and the VFIO cdev part of linux/vfio.h) so that the executor builds against older system headers.
 *
 * Slots: iommufd i=0..3 (/dev/iommu), device d=0..3 (shared with the group path: open_cdev puts the
 * device's /dev/vfio/devices/vfioN fd in slot d).
 *
 * Every struct is sent in a zeroed buffer of max(size, sizeof) bytes (size= overrides the size word;
 * tail=BYTE fills the bytes past the struct, for copy_struct_from_user's nonzero-tail rule).
 */

#define IOMMUFD_T ';'
#define X_IOMMU_DESTROY _IO(IOMMUFD_T, 0x80)
#define X_IOMMU_IOAS_ALLOC _IO(IOMMUFD_T, 0x81)
#define X_IOMMU_IOAS_ALLOW_IOVAS _IO(IOMMUFD_T, 0x82)
#define X_IOMMU_IOAS_COPY _IO(IOMMUFD_T, 0x83)
#define X_IOMMU_IOAS_IOVA_RANGES _IO(IOMMUFD_T, 0x84)
#define X_IOMMU_IOAS_MAP _IO(IOMMUFD_T, 0x85)
#define X_IOMMU_IOAS_UNMAP _IO(IOMMUFD_T, 0x86)
#define X_IOMMU_OPTION _IO(IOMMUFD_T, 0x87)
#define X_IOMMU_VFIO_IOAS _IO(IOMMUFD_T, 0x88)
#define X_VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)
#define X_VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)
#define X_VFIO_DEVICE_DETACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 20)

struct x_iova_range {
	uint64_t start, last;
};

/* The user arrays of IOVA_RANGES and ALLOW_IOVAS: the last 64 KiB of buf (the model's twin uses the same). */
#define RANGES_OFF (BUF_BYTES - 0x10000)
static struct x_iova_range *ranges_array(void)
{
	return (struct x_iova_range *)(rwbuf + RANGES_OFF);
}



/* A zeroed argument buffer: the struct's `sz` bytes, grown to the size word when that is larger. */
struct xarg {
	unsigned char b[512];
	uint32_t size, len;
};

static void xarg_init(struct xarg *a, uint32_t sz)
{
	memset(a->b, 0, sizeof(a->b));
	a->size = (uint32_t)unum("size", sz);
	a->len = a->size > sz ? a->size : sz;
	if (a->len > sizeof(a->b))
		fatal("size: at most %zu", sizeof(a->b));
	const char *t = opt("tail");
	if (t && a->size > sz)
		memset(a->b + sz, (int)(num(t, "tail") & 0xff), a->size - sz);
	memcpy(a->b, &a->size, 4);
}

static void put32(struct xarg *a, uint32_t off, uint32_t v)
{
	memcpy(a->b + off, &v, 4);
}
static void put64(struct xarg *a, uint32_t off, uint64_t v)
{
	memcpy(a->b + off, &v, 8);
}
static uint32_t get32(const struct xarg *a, uint32_t off)
{
	uint32_t v;
	memcpy(&v, a->b + off, 4);
	return v;
}
static uint64_t get64(const struct xarg *a, uint32_t off)
{
	uint64_t v;
	memcpy(&v, a->b + off, 8);
	return v;
}

static int ifd(void)
{
	return iommufds[slot("i")];
}

static void op_open_iommufd(const char *name)
{
	int i = slot("i");
	done_fields("open_iommufd");
	if (iommufds[i] >= 0)
		close(iommufds[i]);
	iommufds[i] = open("/dev/iommu", O_RDWR);
	int e = iommufds[i] < 0 ? errno : 0;
	caserc(name, iommufds[i] < 0 ? -1 : 0, e);
	putchar('\n');
}

static void op_close_iommufd(const char *name)
{
	op_close(name, iommufds, "i", "close_iommufd");
}

/* ioas_alloc i flags(0) size(12) */
static void op_ioas_alloc(const char *name)
{
	struct xarg a;
	int fd = ifd();
	xarg_init(&a, 12);
	put32(&a, 4, (uint32_t)unum("flags", 0));
	done_fields("ioas_alloc");
	int rc = ioctl(fd, X_IOMMU_IOAS_ALLOC, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=IOAS_ALLOC out_ioas_id=%u\n", get32(&a, 8));
}

/* destroy i id size(8) */
static void op_iommu_destroy(const char *name)
{
	struct xarg a;
	int fd = ifd();
	xarg_init(&a, 8);
	uint32_t id = (uint32_t)req("id");
	put32(&a, 4, id);
	done_fields("destroy");
	int rc = ioctl(fd, X_IOMMU_DESTROY, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=DESTROY id=%u\n", id);
}

/*
 * ioas_ranges i ioas num(8) size(32) fill(0) reserved(0): IOMMU_IOAS_IOVA_RANGES with room for `num`
 * ranges (the array prefilled with `fill`); prints num_iovas and the alignment after the call and every
 * entry of the array as it is then (what the kernel wrote, or the fill).
 */
static void op_ioas_ranges(const char *name)
{
	struct xarg a;
	struct x_iova_range *r = ranges_array();
	int fd = ifd();
	xarg_init(&a, 32);
	uint32_t ioas = (uint32_t)req("ioas");
	uint32_t n = (uint32_t)unum("num", 8);
	int fill = (int)(unum("fill", 0) & 0xff);
	put32(&a, 4, ioas);
	put32(&a, 8, n);
	put32(&a, 12, (uint32_t)unum("reserved", 0));
	done_fields("ioas_ranges");
	if (n > 16)
		fatal("ioas_ranges: num at most 16");
	memset(r, fill, 16 * sizeof(*r));
	put64(&a, 16, (uint64_t)(uintptr_t)r);
	int rc = ioctl(fd, X_IOMMU_IOAS_IOVA_RANGES, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=IOAS_IOVA_RANGES ioas=%u num_in=%u num_out=%u align=0x%" PRIx64 "\n", ioas, n, get32(&a, 8),
	       get64(&a, 24));
	for (uint32_t k = 0; k < n; k++)
		printf("RANGE idx=%u start=0x%016" PRIx64 " end=0x%016" PRIx64 "\n", k, r[k].start, r[k].last);
}

/* ioas_map i ioas flags(7) iova(0) length vaddr(buf+0) reserved(0) size(40) */
static void op_ioas_map(const char *name)
{
	struct xarg a;
	char vt[64];
	int fd = ifd();
	xarg_init(&a, 40);
	uint32_t ioas = (uint32_t)req("ioas");
	uint32_t flags = (uint32_t)unum("flags", 7);
	uint64_t iova = unum("iova", 0), length = req("length");
	const char *vs = opt("vaddr");
	if (!vs)
		vs = "buf+0";
	put32(&a, 4, flags);
	put32(&a, 8, ioas);
	put32(&a, 12, (uint32_t)unum("reserved", 0));
	put64(&a, 16, vaddr_of(vs));
	put64(&a, 24, length);
	put64(&a, 32, iova);
	vaddr_text(vs, vt, sizeof(vt));
	done_fields("ioas_map");
	int rc = ioctl(fd, X_IOMMU_IOAS_MAP, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=IOAS_MAP ioas=%u flags=0x%x iova=0x%" PRIx64 " length=0x%" PRIx64 " vaddr_off=%s out_iova=0x%" PRIx64 "\n",
	       ioas, flags, iova, length, vt, get64(&a, 32));
}

/* ioas_unmap i ioas iova length size(24) */
static void op_ioas_unmap(const char *name)
{
	struct xarg a;
	int fd = ifd();
	xarg_init(&a, 24);
	uint32_t ioas = (uint32_t)req("ioas");
	uint64_t iova = unum("iova", 0), length = unum("length", 0);
	put32(&a, 4, ioas);
	put64(&a, 8, iova);
	put64(&a, 16, length);
	done_fields("ioas_unmap");
	int rc = ioctl(fd, X_IOMMU_IOAS_UNMAP, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=IOAS_UNMAP ioas=%u iova=0x%" PRIx64 " length=0x%" PRIx64 " out_length=0x%" PRIx64 "\n", ioas, iova,
	       length, get64(&a, 16));
}

/* ioas_allow i ioas ranges=START-LAST,...|none num(count) reserved(0) size(24) */
static void op_ioas_allow(const char *name)
{
	struct xarg a;
	struct x_iova_range *r = ranges_array();
	int fd = ifd();
	xarg_init(&a, 24);
	uint32_t ioas = (uint32_t)req("ioas");
	const char *rs = opt("ranges");
	char spec[1024];
	uint32_t n = 0;
	memset(r, 0, 16 * sizeof(*r));
	if (!rs)
		fatal("missing field ranges");
	snprintf(spec, sizeof(spec), "%s", rs);
	if (strcmp(spec, "none")) {
		for (char *save, *tok = strtok_r(spec, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			char *dash = strchr(tok + 1, '-');
			if (!dash || n >= 16)
				fatal("ranges: START-LAST,... (at most 16)");
			*dash = 0;
			r[n].start = num(tok, "ranges");
			r[n].last = num(dash + 1, "ranges");
			n++;
		}
	}
	put32(&a, 4, ioas);
	put32(&a, 8, (uint32_t)unum("num", n));
	put32(&a, 12, (uint32_t)unum("reserved", 0));
	put64(&a, 16, (uint64_t)(uintptr_t)r);
	done_fields("ioas_allow");
	int rc = ioctl(fd, X_IOMMU_IOAS_ALLOW_IOVAS, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=IOAS_ALLOW_IOVAS ioas=%u ranges=%s\n", ioas, rs);
}

/* option i option_id(0) op(1: GET) object(0) val(0) reserved(0) size(24) */
static void op_iommu_option(const char *name)
{
	struct xarg a;
	int fd = ifd();
	xarg_init(&a, 24);
	uint32_t id = (uint32_t)unum("option_id", 0);
	uint16_t op = (uint16_t)unum("op", 1), rsv = (uint16_t)unum("reserved", 0);
	uint32_t obj = (uint32_t)unum("object", 0);
	uint64_t val = unum("val", 0);
	put32(&a, 4, id);
	memcpy(a.b + 8, &op, 2);
	memcpy(a.b + 10, &rsv, 2);
	put32(&a, 12, obj);
	put64(&a, 16, val);
	done_fields("option");
	int rc = ioctl(fd, X_IOMMU_OPTION, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=OPTION option_id=%u op=%u object=%u val=0x%" PRIx64 " out_val=0x%" PRIx64 "\n", id, op, obj, val,
	       get64(&a, 16));
}

/*
 * open_cdev d: open /dev/vfio/devices/vfioN of the device in slot d (found through its sysfs vfio-dev/);
 * ENODEV when the machine has no device in that slot
 */
static void op_open_cdev(const char *name)
{
	int d = slot("d");
	char dir[256], path[300] = "";
	done_fields("open_cdev");
	if (!bdf[d]) {
		/* no device in that slot on this machine: a line all the same, so one scenario fits every machine */
		if (devices[d] >= 0)
			close(devices[d]);
		devices[d] = -1;
		caserc(name, -1, ENODEV);
		printf(" op=OPEN_CDEV bdf=none cdev=none\n");
		return;
	}
	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/vfio-dev", bdf[d]);
	DIR *dp = opendir(dir);
	if (dp) {
		for (struct dirent *de; (de = readdir(dp));)
			if (!strncmp(de->d_name, "vfio", 4))
				snprintf(path, sizeof(path), "/dev/vfio/devices/%s", de->d_name);
		closedir(dp);
	}
	if (devices[d] >= 0)
		close(devices[d]);
	if (!path[0]) {
		devices[d] = -1;
		errno = ENOENT;
	} else {
		devices[d] = open(path, O_RDWR);
	}
	int e = devices[d] < 0 ? errno : 0;
	caserc(name, devices[d] < 0 ? -1 : 0, e);
	printf(" op=OPEN_CDEV bdf=%s cdev=%s\n", bdf[d], path[0] ? path + 18 : "none");
}

/* bind_iommufd d fd(i:0) flags(0) size(16) */
static void op_bind_iommufd(const char *name)
{
	struct xarg a;
	int d = slot("d");
	const char *fs = opt("fd");
	xarg_init(&a, 16);
	if (!fs)
		fs = "i:0";
	put32(&a, 4, (uint32_t)unum("flags", 0));
	put32(&a, 8, (uint32_t)fdspec(fs, "fd"));
	done_fields("bind_iommufd");
	int rc = ioctl(devices[d], X_VFIO_DEVICE_BIND_IOMMUFD, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=BIND_IOMMUFD fd=%s out_devid=%u\n", fs, get32(&a, 12));
}

/* attach_pt d pt flags(0) size(12) */
static void op_attach_pt(const char *name)
{
	struct xarg a;
	int d = slot("d");
	xarg_init(&a, 12);
	uint32_t pt = (uint32_t)req("pt");
	put32(&a, 4, (uint32_t)unum("flags", 0));
	put32(&a, 8, pt);
	done_fields("attach_pt");
	int rc = ioctl(devices[d], X_VFIO_DEVICE_ATTACH_IOMMUFD_PT, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=ATTACH_PT pt=%u out_pt=%u\n", pt, get32(&a, 8));
}

/* detach_pt d flags(0) size(8) */
static void op_detach_pt(const char *name)
{
	struct xarg a;
	int d = slot("d");
	xarg_init(&a, 8);
	put32(&a, 4, (uint32_t)unum("flags", 0));
	done_fields("detach_pt");
	int rc = ioctl(devices[d], X_VFIO_DEVICE_DETACH_IOMMUFD_PT, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=DETACH_PT\n");
}

#define X_IOMMU_HWPT_ALLOC _IO(IOMMUFD_T, 0x89)
#define X_IOMMU_GET_HW_INFO _IO(IOMMUFD_T, 0x8a)

/* hwpt_alloc i dev pt flags(0) data_type(0) data_len(0) reserved(0) size(48): IOMMU_HWPT_ALLOC */
static void op_hwpt_alloc(const char *name)
{
	struct xarg a;
	int fd = ifd();
	xarg_init(&a, 48);
	uint32_t dev = (uint32_t)req("dev"), pt = (uint32_t)req("pt"), flags = (uint32_t)unum("flags", 0);
	put32(&a, 4, flags);
	put32(&a, 8, dev);
	put32(&a, 12, pt);
	put32(&a, 20, (uint32_t)unum("reserved", 0));
	put32(&a, 24, (uint32_t)unum("data_type", 0));
	put32(&a, 28, (uint32_t)unum("data_len", 0));
	put64(&a, 32, (uint64_t)(uintptr_t)ranges_array());
	done_fields("hwpt_alloc");
	int rc = ioctl(fd, X_IOMMU_HWPT_ALLOC, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=HWPT_ALLOC dev=%u pt=%u flags=0x%x out_hwpt_id=%u\n", dev, pt, flags, get32(&a, 16));
}

/*
 * hw_info i dev data_len(24) flags(0) reserved(0) fill(0) size(40): IOMMU_GET_HW_INFO into a user buffer
 * prefilled with `fill`; prints the header and the first min(data_len, 64) bytes of the buffer after.
 */
static void op_hw_info(const char *name)
{
	struct xarg a;
	int fd = ifd();
	unsigned char *data = (unsigned char *)ranges_array();
	xarg_init(&a, 40);
	uint32_t dev = (uint32_t)req("dev"), len = (uint32_t)unum("data_len", 24);
	int fill = (int)(unum("fill", 0) & 0xff);
	put32(&a, 4, (uint32_t)unum("flags", 0));
	put32(&a, 8, dev);
	put32(&a, 12, len);
	put64(&a, 16, (uint64_t)(uintptr_t)data);
	a.b[29] = (unsigned char)unum("reserved", 0);
	done_fields("hw_info");
	if (len > 4096)
		fatal("hw_info: data_len at most 4096");
	memset(data, fill, 4096);
	int rc = ioctl(fd, X_IOMMU_GET_HW_INFO, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=GET_HW_INFO dev=%u data_len_in=%u data_len=%u type=%u pasid_log2=%u caps=0x%" PRIx64 " data=", dev, len,
	       get32(&a, 12), get32(&a, 24), a.b[28], get64(&a, 32));
	for (uint32_t k = 0; k < len && k < 64; k++)
		printf("%02x", data[k]);
	putchar('\n');
}

/* ioas_copy i dst src flags(7) length dst_iova(0) src_iova size(40): IOMMU_IOAS_COPY */
static void op_ioas_copy(const char *name)
{
	struct xarg a;
	int fd = ifd();
	xarg_init(&a, 40);
	uint32_t dst = (uint32_t)req("dst"), src = (uint32_t)req("src"), flags = (uint32_t)unum("flags", 7);
	uint64_t length = req("length"), dva = unum("dst_iova", 0), sva = req("src_iova");
	put32(&a, 4, flags);
	put32(&a, 8, dst);
	put32(&a, 12, src);
	put64(&a, 16, length);
	put64(&a, 24, dva);
	put64(&a, 32, sva);
	done_fields("ioas_copy");
	int rc = ioctl(fd, X_IOMMU_IOAS_COPY, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=IOAS_COPY dst=%u src=%u flags=0x%x length=0x%" PRIx64 " dst_iova=0x%" PRIx64 " src_iova=0x%" PRIx64
	       " out_dst_iova=0x%" PRIx64 "\n",
	       dst, src, flags, length, dva, sva, get64(&a, 24));
}

/* vfio_ioas i vop ioas(0) reserved(0) size(12) tail: IOMMU_VFIO_IOAS (GET 0, SET 1, CLEAR 2) */
static void op_vfio_ioas(const char *name)
{
	struct xarg a;
	int fd = ifd();
	xarg_init(&a, 12);
	uint32_t vop = (uint32_t)req("vop");
	uint16_t v = (uint16_t)vop, r = (uint16_t)unum("reserved", 0);
	put32(&a, 4, (uint32_t)unum("ioas", 0));
	memcpy(a.b + 8, &v, 2);
	memcpy(a.b + 10, &r, 2);
	done_fields("vfio_ioas");
	int rc = ioctl(fd, X_IOMMU_VFIO_IOAS, a.b);
	int e = rc ? errno : 0;
	caserc(name, rc, e);
	printf(" op=VFIO_IOAS vop=%u ioas_id=%u\n", vop, get32(&a, 4));
}

/*
 * compat_container c [i]: container slot c names iommufd slot i's file (no new descriptor), so the
 * container operations (check_ext, set_iommu, get_info, map, unmap) reach iommufd's VFIO compatibility;
 * without i the slot is forgotten (never closed through it).
 */
static void op_compat_container(const char *name)
{
	int c = slot("c");
	int fd = opt("i") ? iommufds[slot("i")] : -1;
	done_fields("compat_container");
	containers[c] = fd;
	caserc(name, 0, 0);
	printf(" op=COMPAT_CONTAINER\n");
}
