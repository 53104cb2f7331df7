package io.tandem.inference.hf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.IValue;
import org.junit.jupiter.api.Test;

/**
 * {@link OneDnn} and {@link LinearWeight.PackedFloat32}: float32 products as {@code aten::linear}
 * gives them (to float32 rounding, the sums taken in another order), at batch sizes on both sides
 * of {@link LinearWeight.PackedFloat32#FEW_ROWS}, for a small matrix (plain copy kept) and a large
 * one (packed only).
 */
class OneDnnTest {

  /** Relative to the largest |product| (plus one): float32 sums of a few hundred terms in another order. */
  private static final float RELATIVE_BOUND = 1e-5f;

  @Test
  void packedMatricesMultiplyAsAtenLinearDoesAtEveryBatchSize() {
    Torch.engine();
    assumeTrue(OneDnn.enabled(), "this libtorch build has no oneDNN linear");
    try (NDManager nd = NDManager.newBaseManager()) {
      nd.getEngine().setRandomSeed(7);
      // The demo large model's gate_up shape (small) and Qwen2.5-0.5B's qkv shape (large).
      for (long[] shape : new long[][] {{1024, 192}, {1152, 896}}) {
        NDArray w = nd.randomNormal(new Shape(shape));
        NDArray b = nd.randomNormal(new Shape(shape[0]));
        IValue packed = OneDnn.pack(w);
        LinearWeight.PackedFloat32 p = new LinearWeight.PackedFloat32(w, b, packed);
        try {
          boolean small = shape[0] * shape[1] < LinearWeight.PackedFloat32.SMALL_WEIGHTS;
          if (small) assertNotNull(p.plain(), "a small matrix keeps its plain copy");
          else assertNull(p.plain(), "a large matrix keeps only the packed copy");
          String differs = null;
          for (int rows : new int[] {1, 3, 4, 8, 64, 300}) {
            NDArray x = nd.randomNormal(new Shape(rows, shape[1]));
            NDArray want = new LinearWeight.Dense(w, b).apply(x);
            NDArray got = p.apply(x);
            assertEquals(want.getShape(), got.getShape());
            float scale = 1 + want.abs().max().getFloat();
            float diff = want.sub(got).abs().max().getFloat();
            if (diff > RELATIVE_BOUND * scale && differs == null)
              differs = w.getShape() + " at " + rows + " rows: |diff| " + diff + " against the scale " + scale;
          }
          // The product's own check must say what the products show: that it may use oneDNN here, or not (tester61a:
          // a check that always refused passed, and the test skipped itself, leaving every product on aten::linear).
          assertEquals(differs == null, OneDnn.verify(w, packed), "the check against what the products show: "
              + (differs == null ? "they agree" : differs));
          assertTrue(differs == null, "oneDNN misreads a weight on this CPU (the check keeps aten::linear then): " + differs);
        } finally {
          p.close();
        }
      }
    }
  }

  @Test
  void theCheckRefusesALayoutThatGivesOtherProducts() {
    Torch.engine();
    assumeTrue(OneDnn.enabled(), "this libtorch build has no oneDNN linear");
    try (NDManager nd = NDManager.newBaseManager()) {
      // A shape no other test verifies: the check runs once per shape and process.
      NDArray w = nd.randomNormal(new Shape(208, 176));
      NDArray other = nd.randomNormal(new Shape(208, 176));
      // Another weight's packed copy stands in for a layout oneDNN would misread: every product differs.
      try (IValue wrong = OneDnn.pack(other)) {
        assertFalse(OneDnn.verify(w, wrong));
      }
    }
  }
}
