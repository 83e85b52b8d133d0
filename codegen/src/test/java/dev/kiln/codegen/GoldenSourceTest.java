package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.util.JavacTask;
import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.GraphBuilder;
import dev.kiln.ir.Shape;
import dev.kiln.ir.Value;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;

/**
 * The generated source of a small model against a checked-in golden file, compared as syntax trees (javac's
 * parser and printer), so formatting does not matter but every statement does. Run with
 * {@code -Dkiln.updateGolden=true} to rewrite the golden file after an intended change, then review its diff.
 */
class GoldenSourceTest {
    private static final Path GOLDEN = Path.of("src/test/resources/golden/TinyNet.java");

    /** Conv + bias + Relu, MaxPool, Flatten, Gemm + Sigmoid, and an elementwise chain: one of each emitter family. */
    static Graph tinyNet() {
        GraphBuilder b = new GraphBuilder("tiny");
        Value x = b.input("image", DType.FLOAT32, Shape.parse("N,2,6,6"));
        Value c = b.op("Conv").name("/conv/Conv").inputs(x, b.initializer("conv.weight", GeneratedClassTest.random(1, 4, 2, 3, 3)),
                b.initializer("conv.bias", GeneratedClassTest.random(2, 4))).attr("pads", new long[] {1, 1, 1, 1})
                .outputNames("c").output();
        Value r = b.op("Relu").name("/Relu").inputs(c).outputNames("r").output();
        Value p = b.op("MaxPool").name("/pool/MaxPool").inputs(r).attr("kernel_shape", new long[] {2, 2})
                .attr("strides", new long[] {2, 2}).outputNames("p").output();
        Value f = b.op("Flatten").name("/Flatten").inputs(p).outputNames("f").output();
        Value g = b.op("Gemm").name("/fc/Gemm").inputs(f, b.initializer("fc.weight", GeneratedClassTest.random(3, 5, 36)),
                b.initializer("fc.bias", GeneratedClassTest.random(4, 5))).attr("transB", 1L).outputNames("g").output();
        Value s = b.op("Sigmoid").name("/Sigmoid").inputs(g).outputNames("s").output();
        Value t = b.op("Mul").name("/Mul").inputs(s, b.initializer("scale", dev.kiln.ir.Tensor.scalarFloat(2f)))
                .outputNames("t").output();
        b.output(b.op("Sub").name("/Sub").inputs(t, b.initializer("one", dev.kiln.ir.Tensor.scalarFloat(1f)))
                .outputNames("y").output());
        return GeneratedClassTest.optimized(b.build());
    }

    @Test
    void generatedSourceMatchesTheGoldenFile() throws IOException {
        String source = CodeGenerator.generate(tinyNet(), new CodegenOptions("com.acme", "TinyNet", 1, "tiny.onnx"))
                .mainSource();
        if (Boolean.getBoolean("kiln.updateGolden")) {
            Files.writeString(GOLDEN, source);
        }
        assertEquals(syntaxTree(Files.readString(GOLDEN)), syntaxTree(source),
                "generated source differs from " + GOLDEN + " (rerun with -Dkiln.updateGolden=true if intended)");
    }

    /** The source parsed and printed back by javac: statements and declarations, no layout. */
    static String syntaxTree(String source) throws IOException {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        SimpleJavaFileObject file = new SimpleJavaFileObject(URI.create("string:///TinyNet.java"),
                SimpleJavaFileObject.Kind.SOURCE) {
            @Override
            public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                return source;
            }
        };
        JavacTask task = (JavacTask) javac.getTask(null, null, null, List.of("--release", "25"), null, List.of(file));
        StringBuilder sb = new StringBuilder();
        for (CompilationUnitTree unit : task.parse()) {
            sb.append(unit);
        }
        return sb.toString();
    }
}
