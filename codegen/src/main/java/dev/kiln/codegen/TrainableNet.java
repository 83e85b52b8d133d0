package dev.kiln.codegen;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import java.util.Map;
import javax.lang.model.element.Modifier;

/**
 * What an inference class compiled for training adds so that its trainer (generated beside it, same package)
 * can start from its weights and run it on the trained ones: the weights map it was built from, and a
 * package-private constructor (written by {@link ClassWriter}).
 */
final class TrainableNet {
    /** The field holding the weights map, and the package-private accessor's name. */
    static final String WEIGHTS_FIELD = "weightsByName";

    private static final TypeName WEIGHT_MAP = ParameterizedTypeName.get(ClassName.get(Map.class),
            ClassName.get(String.class), ArrayTypeName.of(TypeName.FLOAT));

    private TrainableNet() {}

    static void addWeightsField(TypeSpec.Builder type) {
        type.addField(FieldSpec.builder(WEIGHT_MAP, WEIGHTS_FIELD, Modifier.PRIVATE, Modifier.FINAL)
                .addJavadoc("Every array of the weights this instance reads, by name (raw parameters and state under "
                        + "their ONNX names), for the trainer.\n")
                .build());
    }

    static void addWeightsAccessor(TypeSpec.Builder type) {
        type.addMethod(MethodSpec.methodBuilder(WEIGHTS_FIELD).returns(WEIGHT_MAP)
                .addJavadoc("The weights this instance reads, by name; the trainer copies them and never writes these.\n")
                .addStatement("return $T.unmodifiableMap($N)", java.util.Collections.class, WEIGHTS_FIELD)
                .build());
    }
}
