package io.tandem.inference.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.optimizer.Adam;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training forward is the inference forward: what it trains and saves, DecoderModel reads back exactly. */
class TrainableDecoderTest {

  private static final TrainableDecoder.Shape2 SHAPE = new TrainableDecoder.Shape2(40, 48, 96, 2, 6, 2, 128);
  private static final int[] TOKENS = {1, 5, 7, 9, 11, 2, 3, 4, 30, 31, 32, 13, 0, 39};

  @Test
  void aTrainedAndSavedModelGivesTheSameLogitsWhenLoadedForInference(@TempDir Path dir) throws Exception {
    try (TrainableDecoder model = new TrainableDecoder(SHAPE, 11);
        NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch")) {
      float first = trainSteps(model, m, 5);
      float last = trainSteps(model, m, 1);
      assertTrue(last < first, "five Adam steps on one batch lower its loss: " + first + " -> " + last);

      long[] ids = java.util.Arrays.stream(TOKENS).asLongStream().toArray();
      float[] trained;
      try (NDManager step = m.newSubManager()) {
        trained = model.forward(step, step.create(ids, new Shape(1, ids.length))).toFloatArray();
      }
      model.save(dir, List.of(2), null);
      try (DecoderModel loaded = DecoderModel.load(dir)) {
        assertEquals(SHAPE.vocabSize(), loaded.config().vocabSize());
        // all positions at once (a prefill) ...
        float[][] prefill = loaded.forwardAllPositions(List.of(loaded.newCache()), List.of(TOKENS)).get(0);
        // ... and token by token through the KV cache
        KvCache cache = loaded.newCache();
        for (int t = 0; t < TOKENS.length; t++) {
          float[] expected = java.util.Arrays.copyOfRange(trained, t * SHAPE.vocabSize(), (t + 1) * SHAPE.vocabSize());
          assertArrayEquals(expected, prefill[t], 1e-5f, "prefill logits at position " + t);
          float[] decoded = loaded.forward(List.of(cache), List.of(new int[] {TOKENS[t]}))[0];
          assertArrayEquals(expected, decoded, 1e-4f, "decode logits at position " + t);
        }
        cache.close();
      }
    }
  }

  @Test
  void paddingAtTheEndOfARowDoesNotChangeTheLogitsBeforeIt() {
    try (TrainableDecoder model = new TrainableDecoder(SHAPE, 3);
        NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch")) {
      long[] shortRow = {1, 5, 7, 9};
      long[] padded = {1, 5, 7, 9, 0, 0, 0};
      float[] a = model.forward(m, m.create(shortRow, new Shape(1, 4))).toFloatArray();
      float[] b = model.forward(m, m.create(padded, new Shape(1, 7))).toFloatArray();
      assertArrayEquals(a, java.util.Arrays.copyOf(b, a.length), 1e-5f);
    }
  }

  /** Runs {@code n} Adam steps on a fixed batch; returns the loss before the last step. */
  private static float trainSteps(TrainableDecoder model, NDManager m, int n) {
    Optimizer adam = Adam.builder().optLearningRateTracker(Tracker.fixed(1e-2f)).build();
    float loss = Float.NaN;
    for (int s = 0; s < n; s++) {
      try (NDManager step = m.newSubManager()) {
        long[] ids = new long[2 * 8];
        long[] targets = new long[2 * 8];
        for (int i = 0; i < ids.length; i++) {
          ids[i] = (i * 7) % 40;
          targets[i] = (i * 7 + 3) % 40;
        }
        NDArray mask = step.ones(new Shape(2, 8));
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
          NDArray l = model.loss(step, step.create(ids, new Shape(2, 8)), step.create(targets, new Shape(2, 8)), mask);
          gc.backward(l);
          loss = l.getFloat();
        }
        for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
          NDArray g = e.getValue().getGradient();
          g.attach(step);
          adam.update(e.getKey(), e.getValue(), g);
          g.subi(g);
        }
      }
    }
    return loss;
  }
}
