// Converts the UCI optdigits CSV extracts beside this file into IDX files (the format MNIST ships in):
// images as unsigned bytes N x 8 x 8, labels as unsigned bytes N. Run from this folder with JDK 25:
//   java ConvertOptdigits.java
// Each CSV row is 64 pixel counts 0..16 (row-major 8x8) followed by the digit 0..9. A count c is stored as the
// byte round(c * 255 / 16), so the usual uint8 image scaling (x / 255) gives back c / 16 in [0, 1], the range
// the bundled model reads; the map is one-to-one, so the original counts are recoverable exactly. It also writes
// test-first8.npy: the first 8 test images (digits 0 to 7) as float32 (8, 1, 8, 8) holding byte / 255, the values
// kiln train reads from the IDX files, for kiln run.

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

void main() throws IOException {
    convert("optdigits-train.csv", "train");
    convert("optdigits-test.csv", "test");
    firstImagesAsNpy("optdigits-test.csv", 8, "test-first8.npy");
}

void convert(String csv, String split) throws IOException {
    List<String> rows = Files.readAllLines(Path.of(csv)).stream().filter(l -> !l.isBlank()).toList();
    ByteArrayOutputStream images = new ByteArrayOutputStream();
    ByteArrayOutputStream labels = new ByteArrayOutputStream();
    header(images, 0x0803, rows.size(), 8, 8);
    header(labels, 0x0801, rows.size());
    for (int r = 0; r < rows.size(); r++) {
        String[] cells = rows.get(r).split(",");
        if (cells.length != 65) {
            throw new IOException(csv + " row " + (r + 1) + ": expected 65 values, found " + cells.length);
        }
        for (int i = 0; i < 64; i++) {
            int count = value(cells[i], 16, csv, r);
            images.write(Math.round(count * 255f / 16f));
        }
        labels.write(value(cells[64], 9, csv, r));
    }
    Files.write(Path.of(split + "-images.idx"), images.toByteArray());
    Files.write(Path.of(split + "-labels.idx"), labels.toByteArray());
    IO.println(split + ": " + rows.size() + " samples -> " + split + "-images.idx, " + split + "-labels.idx");
}

void firstImagesAsNpy(String csv, int count, String npy) throws IOException {
    List<String> rows = Files.readAllLines(Path.of(csv)).subList(0, count);
    String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + count + ", 1, 8, 8), }";
    int unpadded = 10 + dict.length() + 1;
    String header = dict + " ".repeat((64 - unpadded % 64) % 64) + "\n";
    ByteBuffer b = ByteBuffer.allocate(10 + header.length() + count * 64 * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
    b.putShort((short) header.length()).put(header.getBytes(StandardCharsets.US_ASCII));
    for (int r = 0; r < count; r++) {
        String[] cells = rows.get(r).split(",");
        for (int i = 0; i < 64; i++) {
            b.putFloat(Math.round(value(cells[i], 16, csv, r) * 255f / 16f) / 255f);
        }
    }
    Files.write(Path.of(npy), b.array());
    IO.println(npy + ": the first " + count + " test images as float32 (" + count + ", 1, 8, 8)");
}

int value(String cell, int max, String csv, int row) throws IOException {
    int v = Integer.parseInt(cell.strip());
    if (v < 0 || v > max) {
        throw new IOException(csv + " row " + (row + 1) + ": value " + v + " outside 0.." + max);
    }
    return v;
}

// IDX header: two zero bytes, the element type (0x08 = unsigned byte), the rank, then each dimension as a
// big-endian 32-bit integer.
void header(ByteArrayOutputStream out, int magic, int... dims) throws IOException {
    DataOutputStream data = new DataOutputStream(out);
    data.writeInt(magic);
    for (int d : dims) {
        data.writeInt(d);
    }
    data.flush();
}
