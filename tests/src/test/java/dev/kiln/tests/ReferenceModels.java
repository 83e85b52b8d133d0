package dev.kiln.tests;

import dev.kiln.ir.DType;
import dev.kiln.ir.Graph;
import dev.kiln.ir.builder.Activation;
import dev.kiln.ir.builder.Flow;
import dev.kiln.ir.builder.ModelBuilder;

/**
 * The models of {@code ../shared/models/reference_models.py} written with Kiln's builder, line for line
 * like their PyTorch {@code forward}, so their graphs can be compared with the imports of the exports.
 */
final class ReferenceModels {
    private ReferenceModels() {}

    /** {@code MLP}: 784-512-256-10, ReLU, logits. */
    static Graph mlp(ModelBuilder m, String batch) {
        m.input("input", DType.FLOAT32, batch + ",784")
                .dense(512, Activation.RELU)                 // x = F.relu(self.fc1(x))
                .dense(256, Activation.RELU)                 // x = F.relu(self.fc2(x))
                .dense(10)                                   // return self.fc3(x)
                .output("output");
        return m.build();
    }

    /** {@code MnistCNN}: the pytorch/examples MNIST net, log-probabilities. */
    static Graph mnistCnn(ModelBuilder m, String batch) {
        m.input("input", DType.FLOAT32, batch + ",1,28,28")
                .conv2d(10, 5).maxPool2d(2).relu()           // F.relu(F.max_pool2d(self.conv1(x), 2))
                .conv2d(20, 5).maxPool2d(2).relu()           // conv2_drop (Dropout2d) is absent at inference
                .reshape(-1, 320)                            // x.view(-1, 320)
                .dense(50).relu()                            // F.relu(self.fc1(x))
                .dropout(0.5)                                // F.dropout(x, p=self.p, training=self.training)
                .dense(10)                                   // self.fc2(x)
                .logSoftmax(1)                               // F.log_softmax(x, dim=1)
                .output("output");
        return m.build();
    }

    /** {@code RNNClassifier}: LSTM or GRU (hidden 128, batch first), last time step -> Linear(128, 10). */
    static Graph rnnClassifier(ModelBuilder m, String batch, boolean lstm) {
        Flow x = m.input("input", DType.FLOAT32, batch + ",28,28");
        Flow out = lstm ? x.lstm("rnn", 128, true) : x.gru("rnn", 128, true); // out, _ = self.rnn(x)
        out.select(1, -1)                                    // out[:, -1, :]
                .dense("fc", 10)                             // self.fc(...)
                .output("output");
        return m.build();
    }
}
