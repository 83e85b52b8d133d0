// After the build: the plugin generated the net and its trainer, the training test ran and passed, and the jar
// holds both classes and the weights.
import java.util.jar.JarFile

String text = new File(basedir, 'build.log').text
assert text.contains('Kiln: digits.onnx -> com.example.train.Digits (-O3, 1 thread): 2 source files') :
        'the model was compiled with its trainer'
assert text =~ /Tests run: 2, Failures: 0, Errors: 0, Skipped: 0/ : 'DigitsTrainerTest ran and passed'

File jar = new File(basedir, 'target/digits-train-1.0.jar')
assert jar.isFile()
new JarFile(jar).withCloseable { j ->
    assert j.getEntry('com/example/train/Digits.class') != null
    assert j.getEntry('com/example/train/DigitsTrainer.class') != null
    assert j.getEntry('com/example/train/Digits.weights') != null
}
return true
