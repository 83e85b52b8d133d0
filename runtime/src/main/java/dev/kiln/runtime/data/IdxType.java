package dev.kiln.runtime.data;

/** The element types of the IDX format, by the code in the third byte of its magic number. */
public enum IdxType {
    UBYTE(0x08, 1),
    BYTE(0x09, 1),
    SHORT(0x0B, 2),
    INT(0x0C, 4),
    FLOAT(0x0D, 4),
    DOUBLE(0x0E, 8);

    private final int code;
    private final int bytes;

    IdxType(int code, int bytes) {
        this.code = code;
        this.bytes = bytes;
    }

    /** The type code of the magic number. */
    public int code() { return code; }

    /** Bytes per element. */
    public int bytes() { return bytes; }

    /** Whether the elements are integers (read with {@link IdxTensor#ints()}). */
    public boolean isInteger() { return this != FLOAT && this != DOUBLE; }

    /** The type with this code, or null. */
    static IdxType ofCode(int code) {
        for (IdxType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        return null;
    }

    /** The known codes, for error messages. */
    static String known() {
        StringBuilder sb = new StringBuilder();
        for (IdxType t : values()) {
            sb.append(sb.isEmpty() ? "" : ", ").append(String.format("0x%02X %s", t.code, t.name().toLowerCase()));
        }
        return sb.toString();
    }
}
