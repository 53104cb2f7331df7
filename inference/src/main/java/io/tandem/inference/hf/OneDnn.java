package io.tandem.inference.hf;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * oneDNN's float32 linear, which libtorch's CPU build carries (torch.compile's CPU backend,
 * Inductor, calls it for {@code nn.Linear} under {@code freezing}) but DJL's PyTorch JNI has no
 * binding for: {@code torch.ops.mkldnn._reorder_linear_weight(weight)} lays an {@code nn.Linear}
 * weight {@code [out, in]} out once in oneDNN's blocked format, and {@code
 * torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")} multiplies float32 rows by
 * it with the kernels oneDNN generates for the CPU it runs on. Same precision as {@code
 * aten::linear}: float32 weights, activations and accumulation (only the order of the sums
 * differs). Reached through a small TorchScript module written here as source, as {@link Fbgemm}.
 *
 * <p>Why: {@code aten::linear} in float32 goes to MKL, which on the AMD EPYC CPUs this project
 * runs on takes its generic code path and packs the weight again on every call. Measured there
 * (libtorch 2.7.1, one thread, 2026-12-03): Qwen2.5-0.5B's {@code gate_up} shape (896x4864) at 8
 * rows 0.34-0.36 ms against 1.4-1.6 ms, at 200 rows 8.1 ms against 18.7-19.0 ms; the demo large
 * model's (192x1024) 25 against 52 us at 8 rows; at one row oneDNN's fixed cost of a call (about
 * 7 us) makes it slower for small matrices (192x320: 11 against 4.6 us) and as fast for large ones
 * (896x4864: 212-231 against 261-287 us), which is why {@link LinearWeight.PackedFloat32} keeps a
 * small matrix's plain copy for batches of a few rows.
 *
 * <p>Thread-safe: the module is loaded once per process and only read.
 */
final class OneDnn {

  private static final Logger log = LoggerFactory.getLogger(OneDnn.class);

  /**
   * The system property that, set to {@code false}, multiplies float32 matrices on the CPU by
   * {@code aten::linear} (MKL) as before oneDNN: for comparisons.
   */
  static final String ENABLED = "tandem.onednn";

  /**
   * The batch size the weights are laid out for. libtorch asks for one ({@code batch_size} of
   * {@code _reorder_linear_weight}: Inductor passes its static batch) and, without it, lays the
   * weight out in a format that {@code _linear_pointwise} then misreads (every product wrong, seen
   * here); with one, the same layout served every batch size measured (1 to 1,024 rows), which
   * {@link #verify} checks for each shape before a model uses it.
   */
  private static final long LAID_OUT_FOR_ROWS = 64;

  /**
   * Batch sizes {@link #verify} compares, around the ones serving sees (decode batches, prefills),
   * as many of them as keep each product under {@link #VERIFIED_MACS} multiply-adds.
   */
  private static final long[] VERIFIED_ROWS = {1, 2, 3, 4, 5, 8, 13, 32, 64, 100, 257, 1024};

  /** The most multiply-adds {@link #verify} spends on one batch size: 2^31, some 50 ms here. */
  private static final long VERIFIED_MACS = 1L << 31;

  /** The most outputs {@link #verify} holds per product (2^22 floats, 16 MiB; it holds four such at once). */
  private static final long VERIFIED_OUTPUTS = 1L << 22;

  /** The module's methods, in TorchScript (an empty list of scalars: the post-op "none" takes none). */
  private static final String CODE = """
        def pack(self: __torch__.OneDnn, weight: Tensor, rows: int) -> Tensor:
          return ops.mkldnn._reorder_linear_weight(weight, rows)
        def agrees(self: __torch__.OneDnn, weight: Tensor, packed: Tensor, rows: List[int]) -> bool:
          for m in rows:
            x = torch.arange(m * weight.size(1), dtype=weight.dtype).reshape([m, weight.size(1)]).mul(0.37).sin()
            want = torch.linear(x, weight)
            got = ops.mkldnn._linear_pointwise(x, packed, None, "none", annotate(List[Optional[number]], []), "")
            if bool((want - got).abs().max() > 1e-4 * (1.0 + float(want.abs().max()))):
              return False
          return True
        def linear(self: __torch__.OneDnn, x: Tensor, packed: Tensor) -> Tensor:
          return ops.mkldnn._linear_pointwise(x, packed, None, "none", annotate(List[Optional[number]], []), "")
        def linear_bias(self: __torch__.OneDnn, x: Tensor, packed: Tensor, bias: Tensor) -> Tensor:
          return ops.mkldnn._linear_pointwise(x, packed, bias, "none", annotate(List[Optional[number]], []), "")
          """;

  private OneDnn() {}

  /** The loaded module, or null where this libtorch build has no oneDNN linear (then MKL serves). */
  private static final class Module {
    static final PtSymbolBlock BLOCK = load();

    private static PtSymbolBlock load() {
      try {
        return TorchScript.load("OneDnn", CODE);
      } catch (EngineException e) {
        log.warn("this libtorch build has no oneDNN linear; float32 matrices are multiplied by aten::linear ({})",
            e.getMessage().strip());
        return null;
      }
    }
  }

  /**
   * Whether float32 matrices on the CPU are packed for oneDNN: unless {@link #ENABLED} is {@code
   * false}, and where libtorch has the ops.
   */
  static boolean enabled() {
    String value = System.getProperty(ENABLED, "true").strip().toLowerCase(java.util.Locale.ROOT);
    if (!value.equals("true") && !value.equals("false"))
      // A setting given wrong, as every command's start-up check says it (exit 2; tester56d: bench model, which has none, 1).
      throw io.tandem.protocol.config.InvalidConfigException.setting(ENABLED, "-D" + ENABLED + "="
          + io.tandem.protocol.text.Clipped.of(System.getProperty(ENABLED)) + " is neither true nor false: use true (float32"
          + " matrices through oneDNN, the default) or false (through aten::linear)", null);
    return value.equals("true") && Module.BLOCK != null;
  }

  /**
   * Lays a weight out for {@link #linear}.
   *
   * @param weight {@code [out, in]} float32 on the CPU (left as it is)
   * @return the packed weight, an opaque oneDNN tensor of the same size (freed when it is closed)
   */
  static IValue pack(NDArray weight) {
    if (weight.getDataType() != DataType.FLOAT32 || weight.getShape().dimension() != 2)
      throw new IllegalArgumentException("oneDNN packs a 2-d float32 weight, got " + weight.getDataType() + " " + weight.getShape());
    try (IValue w = IValue.from((PtNDArray) weight);
        IValue rows = IValue.from(LAID_OUT_FOR_ROWS)) {
      return IValueUtils.runMethod(Module.BLOCK, "pack", w, rows);
    }
  }

  /** Per shape {@code out x in}, whether {@link #verify} passed it in this process. */
  private static final java.util.Map<String, Boolean> VERIFIED = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * Whether {@link #linear} by {@code packed} agrees with {@code aten::linear} by {@code weight}
   * (to float32 rounding) at every batch size of {@link #VERIFIED_ROWS} within {@link
   * #VERIFIED_MACS} and {@link #VERIFIED_OUTPUTS} (one row at least): once per shape and process. A wrong layout gives products nothing like the right ones, so a weight that fails is
   * multiplied by {@code aten::linear} instead (the caller's choice).
   */
  static boolean verify(NDArray weight, IValue packed) {
    String shape = weight.getShape().toString();
    Boolean known = VERIFIED.get(shape);
    if (known != null) return known;
    long out = weight.getShape().get(0);
    long perRow = out * weight.getShape().get(1);
    long[] verified = java.util.Arrays.stream(VERIFIED_ROWS)
        .filter(m -> m == 1 || m * perRow <= VERIFIED_MACS && m * out <= VERIFIED_OUTPUTS).toArray();
    boolean agrees;
    try (IValue w = IValue.from((PtNDArray) weight);
        IValue rows = IValue.listFrom(verified);
        IValue ok = IValueUtils.runMethod(Module.BLOCK, "agrees", w, packed, rows)) {
      agrees = ok.toBoolean();
    }
    // Said once per shape: a model has the same shapes in every layer.
    if (VERIFIED.putIfAbsent(shape, agrees) == null && !agrees)
      log.warn("oneDNN's linear disagrees with aten::linear for a {} weight on this CPU; such weights are multiplied"
          + " by aten::linear (MKL)", shape);
    return agrees;
  }

  /**
   * {@code x @ weight^T + bias} with the weight as {@link #pack} left it.
   *
   * @param x {@code [N, in]} float32
   * @param bias {@code [out]} float32, or null
   * @return {@code [N, out]} float32, in the manager of {@code x}
   */
  static NDArray linear(NDArray x, IValue packed, NDArray bias) {
    try (IValue in = IValue.from((PtNDArray) x)) {
      if (bias == null) {
        try (IValue out = IValueUtils.runMethod(Module.BLOCK, "linear", in, packed)) {
          return out.toTensor((PtNDManager) x.getManager());
        }
      }
      try (IValue b = IValue.from((PtNDArray) bias);
          IValue out = IValueUtils.runMethod(Module.BLOCK, "linear_bias", in, packed, b)) {
        return out.toTensor((PtNDManager) x.getManager());
      }
    }
  }
}
