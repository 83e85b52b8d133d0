// After the two invocations: the tests ran and passed, the jar holds the generated class and its weights, and
// the second build found everything up to date.
import java.util.jar.JarFile

File log = new File(basedir, 'build.log')
String text = log.text
assert text.contains('Kiln: digits.onnx -> com.example.digits.Digits (-O3, 1 thread)') : 'the model was compiled'
assert text =~ /Tests run: 3, Failures: 0, Errors: 0, Skipped: 0/ : 'DigitsTest ran and passed'
assert text.contains('Kiln: 1 model up to date (models and configuration unchanged), nothing regenerated') :
        'the second build regenerated nothing'

File jar = new File(basedir, 'target/digits-1.0.jar')
assert jar.isFile()
new JarFile(jar).withCloseable { j ->
    assert j.getEntry('com/example/digits/Digits.class') != null
    assert j.getEntry('com/example/digits/Digits.weights') != null
    assert j.getEntry('com/example/digits/Digits.weights').size == new File(basedir,
            'target/generated-resources/kiln/com/example/digits/Digits.weights').length()
}
return true
