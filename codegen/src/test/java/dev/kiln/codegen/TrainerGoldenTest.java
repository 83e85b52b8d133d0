package dev.kiln.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The generated trainer of a tiny model (and its inference class compiled for training) against checked-in
 * golden files, compared as syntax trees. Run with {@code -Dkiln.updateGolden=true} to rewrite them after an
 * intended change, then review the diff.
 */
class TrainerGoldenTest {
    private static final Path NET = Path.of("src/test/resources/golden/Linear.java");
    private static final Path TRAINER = Path.of("src/test/resources/golden/LinearTrainer.java");

    @Test
    void generatedTrainerMatchesTheGoldenFiles() throws IOException {
        GeneratedModel model = TrainerGenerationTest.generate(1);
        String net = model.sources().get(0).toString();
        String trainer = model.sources().get(1).toString();
        if (Boolean.getBoolean("kiln.updateGolden")) {
            Files.writeString(NET, net);
            Files.writeString(TRAINER, trainer);
        }
        assertEquals(GoldenSourceTest.syntaxTree(Files.readString(NET)), GoldenSourceTest.syntaxTree(net),
                "generated source differs from " + NET + " (rerun with -Dkiln.updateGolden=true if intended)");
        assertEquals(GoldenSourceTest.syntaxTree(Files.readString(TRAINER)), GoldenSourceTest.syntaxTree(trainer),
                "generated source differs from " + TRAINER + " (rerun with -Dkiln.updateGolden=true if intended)");
    }

    @Test
    void generationIsDeterministic() {
        assertEquals(TrainerGenerationTest.generate(1).sources().toString(), TrainerGenerationTest.generate(1).sources()
                .toString());
    }
}
