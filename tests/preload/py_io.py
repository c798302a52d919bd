"""os-level file I/O for run.sh: os.open/read/pread/write/pwrite/lseek/ftruncate/readv/preadv."""
import errno
import hashlib
import os


def h(b):
    return hashlib.sha256(bytes(b)).hexdigest()[:16]


def err(f, *a):
    try:
        r = f(*a)
        return repr(r) if not isinstance(r, (bytes, bytearray)) else f"{len(r)}:{h(r)}"
    except OSError as e:
        return "OSError " + errno.errorcode.get(e.errno, str(e.errno))


fd = os.open("py.bin", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
print("open", fd)
data = bytes((i * 131 + 7 + (i >> 9)) % 256 for i in range(200000))
print("write", os.write(fd, data), "off", os.lseek(fd, 0, os.SEEK_CUR))
print("lseek", os.lseek(fd, 100, os.SEEK_SET))
b = os.read(fd, 1000)
print("read", len(b), h(b), "off", os.lseek(fd, 0, os.SEEK_CUR))
for off, n in [(0, 10), (199990, 100), (200000, 5), (300000, 5), (4095, 2), (12345, 65536)]:
    print("pread", off, n, err(os.pread, fd, n, off))
print("pread -1", err(os.pread, fd, 10, -1))
print("lseek -1", err(os.lseek, fd, -1, os.SEEK_SET))
print("lseek END", os.lseek(fd, -10, os.SEEK_END))
print("pwrite", os.pwrite(fd, b"hello", 10), err(os.pread, fd, 20, 5))
print("write", os.write(fd, b"x" * 30), "off", os.lseek(fd, 0, os.SEEK_CUR), "size", os.fstat(fd).st_size)
os.ftruncate(fd, 5000)
print("ftruncate size", os.fstat(fd).st_size, "off", os.lseek(fd, 0, os.SEEK_CUR))
print("read past EOF", err(os.read, fd, 100))
os.lseek(fd, 0, os.SEEK_SET)
total = b""
while True:
    c = os.read(fd, 777)
    if not c:
        break
    total += c
print("read all", len(total), h(total))
print("SEEK_DATA", err(os.lseek, fd, 0, os.SEEK_DATA), "SEEK_HOLE", err(os.lseek, fd, 0, os.SEEK_HOLE))
os.close(fd)
print("read closed", err(os.read, fd, 1))
fd = os.open("py.bin", os.O_RDONLY)
bufs = [bytearray(100), bytearray(300)]
print("readv", os.readv(fd, bufs), h(bufs[0] + bufs[1]), "off", os.lseek(fd, 0, os.SEEK_CUR))
print("preadv", os.preadv(fd, bufs, 1000), h(bufs[0] + bufs[1]))
print("write RDONLY", err(os.write, fd, b"x"))
d = os.dup(fd)
print("dup", d, "read", err(os.read, d, 50), "off", os.lseek(fd, 0, os.SEEK_CUR))
os.close(d)
with open("py.bin", "rb", buffering=0) as f:
    print("FileIO", len(f.read()), f.tell())
with open("py.bin", "rb") as f:
    f.seek(4000)
    print("BufferedReader", h(f.read(2000)), f.tell())
os.close(fd)
