// The build failed with one message naming the model file, the node and the op, and wrote nothing.
String text = new File(basedir, 'build.log').text
def failure = text.readLines().find { it.contains('Kiln cannot compile') }
assert failure != null : 'a Kiln error line'
assert failure.contains('src/main/onnx/to_text.onnx') : failure
assert failure.contains("node 'to_text' (Cast)") : failure
assert failure.contains('code generation does not handle string tensors') : failure
File sources = new File(basedir, 'target/generated-sources/kiln')
assert !sources.exists() || sources.listFiles().every { !it.name.endsWith('.java') && it.name != 'com' }
assert !new File(basedir, 'target/generated-resources/kiln/com').exists()
return true
