package dev.kiln.maven;

import dev.kiln.codegen.CodeGenerator;
import dev.kiln.compiler.KilnCompiler;
import dev.kiln.ir.Graph;
import dev.kiln.onnx.OnnxImporter;
import dev.kiln.passes.PassManager;
import dev.kiln.runtime.WeightsFile;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;

/**
 * The version of the Kiln compiler the plugin runs, as part of the incremental-build fingerprint. A release
 * version names its code; a {@code -SNAPSHOT} does not, so for snapshots the Kiln jars themselves are hashed too
 * (a rebuilt compiler then regenerates the models).
 */
final class KilnVersion {
    private static final List<Class<?>> KILN_MODULES = List.of(Graph.class, OnnxImporter.class, PassManager.class,
            CodeGenerator.class, WeightsFile.class, KilnCompiler.class, KilnVersion.class);

    private KilnVersion() {}

    /** The plugin's version, plus a hash of Kiln's code when that version is a snapshot. */
    static String current() {
        String version = declared();
        if (!version.endsWith("-SNAPSHOT")) {
            return version;
        }
        Fingerprint code = new Fingerprint();
        for (Path location : codeLocations()) {
            code.addFileOrTree(location);
        }
        return version + "+" + code.hex();
    }

    /** The version Maven built the plugin as (a filtered resource). */
    static String declared() {
        try (InputStream in = KilnVersion.class.getResourceAsStream("kiln-version.properties")) {
            if (in == null) {
                throw new IllegalStateException("kiln-version.properties is missing from the plugin jar");
            }
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Set<Path> codeLocations() {
        Set<Path> locations = new LinkedHashSet<>();
        for (Class<?> c : KILN_MODULES) {
            CodeSource source = c.getProtectionDomain().getCodeSource();
            if (source == null) {
                continue;
            }
            try {
                Path p = Path.of(source.getLocation().toURI());
                if (Files.exists(p)) {
                    locations.add(p);
                }
            } catch (URISyntaxException | IllegalArgumentException e) {
                // a location that is no file (e.g. a custom class loader) cannot be hashed; the version still applies
            }
        }
        return locations;
    }
}
