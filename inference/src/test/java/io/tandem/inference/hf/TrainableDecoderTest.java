package io.tandem.inference.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.djl.training.optimizer.Adam;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training forward is the inference forward: what it trains and saves, DecoderModel reads back exactly. */
class TrainableDecoderTest {

  private static final TrainableDecoder.Shape2 SHAPE = new TrainableDecoder.Shape2(40, 48, 96, 2, 6, 2, 128);
  private static final int[] TOKENS = {1, 5, 7, 9, 11, 2, 3, 4, 30, 31, 32, 13, 0, 39};
  /** The training batch, two rows of 8: token {@code 7i mod 40} is followed by {@code 7i + 3 mod 40}. */
  private static final long[] BATCH_IDS = new long[2 * 8];
  private static final long[] BATCH_TARGETS = new long[2 * 8];

  static {
    for (int i = 0; i < BATCH_IDS.length; i++) {
      BATCH_IDS[i] = (i * 7) % 40;
      BATCH_TARGETS[i] = (i * 7 + 3) % 40;
    }
  }

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
  void aModelGrownByBlockExpansionComputesWhatItsCheckpointDidAndTrainsOnlyTheAddedBlocks(@TempDir Path dir) throws Exception {
    TrainableDecoder.Shape2 grown = new TrainableDecoder.Shape2(40, 48, 96, 6, 6, 2, 128);
    long[] ids = java.util.Arrays.stream(TOKENS).asLongStream().toArray();
    try (TrainableDecoder model = new TrainableDecoder(SHAPE, 11);
        TrainableDecoder deeper = new TrainableDecoder(grown, 12);
        NDManager m = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch")) {
      trainSteps(model, m, 3);
      model.save(dir, List.of(2), null);
      deeper.loadWeights(dir);
      float[] before = model.forward(m, m.create(ids, new Shape(1, ids.length))).toFloatArray();
      assertArrayEquals(before, deeper.forward(m, m.create(ids, new Shape(1, ids.length))).toFloatArray(), 1e-5f,
          "the added blocks add nothing to the residual stream until they are trained");
      // LLaMA Pro's layout: layers 0 and 3 are the checkpoint's, 1-2 and 4-5 the added copies.
      assertEquals(java.util.Set.of(1, 2, 4, 5), deeper.trainableParameters().keySet().stream()
          .map(n -> Integer.parseInt(n.split("\\.")[2])).collect(java.util.stream.Collectors.toSet()));
      Map<String, float[]> frozen = new LinkedHashMap<>();
      for (Map.Entry<String, NDArray> e : deeper.parameters().entrySet()) {
        if (!deeper.trainableParameters().containsKey(e.getKey())) frozen.put(e.getKey(), e.getValue().toFloatArray());
      }
      assertTrue(frozen.containsKey("model.embed_tokens.weight") && frozen.containsKey("model.layers.3.mlp.down_proj.weight"));
      trainSteps(deeper, m, 3);
      for (Map.Entry<String, float[]> e : frozen.entrySet()) {
        assertArrayEquals(e.getValue(), deeper.parameters().get(e.getKey()).toFloatArray(), 0f, e.getKey() + " is frozen");
      }
      assertTrue(deeper.parameters().get("model.layers.4.mlp.down_proj.weight").abs().max().getFloat() > 0,
          "training moved an added block's output projection off zero");
    }
  }

  @Test
  void aForwardAndBackwardPassLeavesNothingInTheModelsOwnManager() throws Exception {
    try (TrainableDecoder model = new TrainableDecoder(SHAPE, 11)) {
      gradients(model, false);
      int held = model.heldArrays();
      for (int i = 0; i < 3; i++) gradients(model, false);
      assertEquals(held, model.heldArrays(), "arrays a step made stay with the step (the fused q/k/v and gate/up"
          + " weights leaked a megabyte per layer and step when they did not)");
    }
  }

  @Test
  void aCheckpointWhoseLayersDoNotDivideTheModelsIsRefused(@TempDir Path dir) throws Exception {
    try (TrainableDecoder model = new TrainableDecoder(SHAPE, 11);
        TrainableDecoder five = new TrainableDecoder(new TrainableDecoder.Shape2(40, 48, 96, 5, 6, 2, 128), 12)) {
      model.save(dir, List.of(2), null);
      IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> five.loadWeights(dir));
      assertTrue(e.getMessage().contains("has 2 layers; this model has 5"), e.getMessage());
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

  @Test
  void aStepsGradientsDoNotDependOnWhenTheJvmCollectsGarbage() throws Exception {
    try (TrainableDecoder model = new TrainableDecoder(SHAPE, 11)) {
      Map<String, float[]> undisturbed = gradients(model, false);
      Map<String, float[]> collected = gradients(model, true);
      for (Map.Entry<String, float[]> e : undisturbed.entrySet()) {
        assertArrayEquals(e.getValue(), collected.get(e.getKey()), 0f,
            e.getKey() + "'s gradient, with the JVM's garbage collected between forward and backward");
      }
    }
  }

  /**
   * The gradients of one forward and backward pass over the training batch, zeroed again after;
   * with {@code collect}, the JVM collects its garbage between the two passes until it has freed
   * direct memory, as it may at any time in a real run: whatever buffer the forward pass left
   * unreachable but the backward pass still reads is then gone.
   */
  private static Map<String, float[]> gradients(TrainableDecoder model, boolean collect) throws InterruptedException {
    Map<String, float[]> out = new LinkedHashMap<>();
    try (NDManager step = NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch")) {
      try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
        NDArray l = model.loss(step, step.create(BATCH_IDS, new Shape(2, 8)), step.create(BATCH_TARGETS, new Shape(2, 8)),
            step.ones(new Shape(2, 8)));
        if (collect) freeUnreachableDirectMemory();
        gc.backward(l);
      }
      for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
        try (NDArray g = e.getValue().getGradient()) {
          out.put(e.getKey(), g.toFloatArray());
        }
        JniUtils.zeroGrad((PtNDArray) e.getValue());
      }
    }
    return out;
  }

  /** Collects garbage until the direct memory in use drops (a buffer of 1 MiB is dropped for it), polling for 30 s at most. */
  private static void freeUnreachableDirectMemory() throws InterruptedException {
    BufferPoolMXBean direct = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
        .filter(b -> b.getName().equals("direct")).findFirst().orElseThrow();
    ByteBuffer dropped = ByteBuffer.allocateDirect(1 << 20);
    long held = direct.getMemoryUsed();
    dropped = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (direct.getMemoryUsed() >= held) {
      assertTrue(System.nanoTime() < deadline, "the JVM freed no direct memory within 30 s of System.gc() calls");
      System.gc();
      Thread.sleep(10);
    }
  }

  /** Runs {@code n} Adam steps on a fixed batch; returns the loss before the last step. */
  private static float trainSteps(TrainableDecoder model, NDManager m, int n) {
    Optimizer adam = Adam.builder().optLearningRateTracker(Tracker.fixed(1e-2f)).build();
    float loss = Float.NaN;
    for (int s = 0; s < n; s++) {
      try (NDManager step = m.newSubManager()) {
        NDArray mask = step.ones(new Shape(2, 8));
        try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
          NDArray l = model.loss(step, step.create(BATCH_IDS, new Shape(2, 8)), step.create(BATCH_TARGETS, new Shape(2, 8)), mask);
          gc.backward(l);
          loss = l.getFloat();
        }
        for (Map.Entry<String, NDArray> e : model.trainableParameters().entrySet()) {
          NDArray g = e.getValue().getGradient();
          g.attach(step);
          adam.update(e.getKey(), e.getValue(), g);
          JniUtils.zeroGrad((PtNDArray) e.getValue()); // not g - g: an infinite gradient minus itself is NaN
        }
      }
    }
    return loss;
  }
}
