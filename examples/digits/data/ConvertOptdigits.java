// Converts the UCI optdigits CSV extracts beside this file into IDX files (the format MNIST ships in):
// images as unsigned bytes N x 8 x 8, labels as unsigned bytes N. Run from this folder with JDK 25:
//   java ConvertOptdigits.java
// Each CSV row is 64 pixel counts 0..16 (row-major 8x8) followed by the digit 0..9. A count c is stored as the
// byte round(c * 255 / 16), so the usual uint8 image scaling (x / 255) gives back c / 16 in [0, 1], the range
// the bundled model reads; the map is one-to-one, so the original counts are recoverable exactly.

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

void main() throws IOException {
    convert("optdigits-train.csv", "train");
    convert("optdigits-test.csv", "test");
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
