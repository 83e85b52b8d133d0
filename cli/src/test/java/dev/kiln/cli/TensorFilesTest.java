package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class TensorFilesTest {
    @Test
    void outputNamesKeepOnlyPortableCharacters() {
        assertEquals("logits.npy", TensorFiles.npyFileName("logits"));
        assertEquals("out_y_0.npy", TensorFiles.npyFileName("out/y:0"));
        assertEquals("a.b-c_d.npy", TensorFiles.npyFileName("a.b-c_d"));
        assertEquals("__.npy", TensorFiles.npyFileName("é "));
        assertEquals("_.npy", TensorFiles.npyFileName(""));
    }
}
