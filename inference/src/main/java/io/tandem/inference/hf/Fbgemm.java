package io.tandem.inference.hf;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * FBGEMM's float16-weight linear, which libtorch's CPU build carries (PyTorch's dynamic float16
 * quantization runs on it) but DJL's PyTorch JNI has no binding for: {@code
 * torch.ops.quantized.linear_prepack_fp16(weight, bias)} rounds an {@code nn.Linear} weight {@code
 * [out, in]} to float16 and packs it into FBGEMM's blocked layout once, and {@code
 * torch.ops.quantized.linear_dynamic_fp16(x, packed)} multiplies float32 rows by it (the weights
 * widened in registers; activations, accumulation, bias and output stay float32). Both are reached
 * through a small TorchScript module written here as source and loaded by DJL; the packed weight
 * is a TorchScript object ({@code LinearPackedParamsBase}) held as an {@link IValue}.
 *
 * <p>Why: on the CPUs this project runs on (AMD EPYC, 2 threads, libtorch 2.7.1), MKL's float32
 * GEMV takes its generic code path and packs the weight on every call of a few rows, and float16
 * matmuls through {@code aten::linear} run row by row. Measured for Qwen2.5-0.5B's {@code
 * down_proj} shape (896x4864): 0.23 ms at one row against 0.94 ms (float32 {@code linear}) and
 * 0.42 ms (float16 {@code linear}); 0.72 ms at 8 rows against 3.4 and 3.4 ms; 5.6 ms at 64 rows
 * against 9.8 and 45 ms.
 *
 * <p>Thread-safe: the module is loaded once per process and only read.
 */
final class Fbgemm {

  /** The packed weight's TorchScript type. */
  private static final String PACKED = "__torch__.torch.classes.quantized.LinearPackedParamsBase";

  /** The module's source, as {@code torch.jit.save} writes a scripted module's code. */
  private static final String CODE = """
      class Fbgemm(Module):
        __parameters__ = []
        __buffers__ = []
        training : bool
        _is_full_backward_hook : Optional[bool]
        def forward(self: __torch__.Fbgemm, x: Tensor) -> Tensor:
          return x
        def pack(self: __torch__.Fbgemm, weight: Tensor, bias: Tensor) -> %1$s:
          return ops.quantized.linear_prepack_fp16(weight, bias)
        def pack_without_bias(self: __torch__.Fbgemm, weight: Tensor) -> %1$s:
          return ops.quantized.linear_prepack_fp16(weight, None)
        def linear(self: __torch__.Fbgemm, x: Tensor, packed: %1$s) -> Tensor:
          return ops.quantized.linear_dynamic_fp16(x, packed)
      """.formatted(PACKED);

  private Fbgemm() {}

  /** The loaded module, created on first use (PyTorch must be loaded by then, see {@link Torch}). */
  private static final class Module {
    static final PtNDManager MANAGER = (PtNDManager) NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch");
    static final PtSymbolBlock BLOCK = load();

    private static PtSymbolBlock load() {
      try {
        return JniUtils.loadModule(MANAGER, new ByteArrayInputStream(archive()), false, false);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (EngineException e) {
        throw new IllegalStateException("this libtorch build has no FBGEMM float16 linear, which precision float16"
            + " on the CPU needs; use precision float32 (" + e.getMessage().strip() + ")", e);
      }
    }
  }

  /**
   * Packs an {@code nn.Linear} weight and bias for {@link #linear}.
   *
   * @param weight {@code [out, in]} float32 on the CPU (left as it is)
   * @param bias {@code [out]} float32, or null
   * @return the packed weight (out * in * 2 bytes of native memory, freed when it is closed)
   */
  static IValue pack(NDArray weight, NDArray bias) {
    if (weight.getDataType() != DataType.FLOAT32 || weight.getShape().dimension() != 2)
      throw new IllegalArgumentException("FBGEMM packs a 2-d float32 weight, got " + weight.getDataType() + " " + weight.getShape());
    try (IValue w = IValue.from((PtNDArray) weight)) {
      if (bias == null) return IValueUtils.runMethod(Module.BLOCK, "pack_without_bias", w);
      try (IValue b = IValue.from((PtNDArray) bias)) {
        return IValueUtils.runMethod(Module.BLOCK, "pack", w, b);
      }
    }
  }

  /**
   * {@code x @ weight^T + bias} with the weight and bias as {@link #pack} left them.
   *
   * @param x {@code [N, in]} float32
   * @return {@code [N, out]} float32, in the manager of {@code x}
   */
  static NDArray linear(NDArray x, IValue packed) {
    try (IValue in = IValue.from((PtNDArray) x);
        IValue out = IValueUtils.runMethod(Module.BLOCK, "linear", in, packed)) {
      return out.toTensor((PtNDManager) x.getManager());
    }
  }

  /** The module as a TorchScript archive (the zip {@code torch.jit.save} writes): code, state, version. */
  private static byte[] archive() throws IOException {
    ByteArrayOutputStream zip = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(zip)) {
      entry(z, "fbgemm/version", "3\n".getBytes(StandardCharsets.US_ASCII));
      entry(z, "fbgemm/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
      entry(z, "fbgemm/constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}); // pickle: ()
      entry(z, "fbgemm/data.pkl", state());
      entry(z, "fbgemm/code/__torch__.py", CODE.getBytes(StandardCharsets.UTF_8));
    }
    return zip.toByteArray();
  }

  /**
   * The module object as a protocol-2 pickle: {@code __torch__.Fbgemm} with its two attributes,
   * {@code training = True} and {@code _is_full_backward_hook = None}.
   */
  private static byte[] state() {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    p.writeBytes(new byte[] {(byte) 0x80, 2}); // PROTO 2
    p.writeBytes("c__torch__\nFbgemm\n".getBytes(StandardCharsets.US_ASCII)); // GLOBAL
    p.writeBytes(new byte[] {')', (byte) 0x81, '}', '('}); // EMPTY_TUPLE NEWOBJ EMPTY_DICT MARK
    string(p, "training");
    p.write((byte) 0x88); // NEWTRUE
    string(p, "_is_full_backward_hook");
    p.writeBytes(new byte[] {'N', 'u', 'b', '.'}); // NONE SETITEMS BUILD STOP
    return p.toByteArray();
  }

  /** BINUNICODE: a 4-byte little-endian length, then UTF-8. */
  private static void string(ByteArrayOutputStream p, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    p.write('X');
    for (int i = 0; i < 4; i++) p.write((b.length >>> (8 * i)) & 0xff);
    p.writeBytes(b);
  }

  /** A stored (uncompressed) entry, as TorchScript archives are written. */
  private static void entry(ZipOutputStream z, String name, byte[] content) throws IOException {
    ZipEntry e = new ZipEntry(name);
    e.setMethod(ZipEntry.STORED);
    e.setSize(content.length);
    CRC32 crc = new CRC32();
    crc.update(content);
    e.setCrc(crc.getValue());
    z.putNextEntry(e);
    z.write(content);
    z.closeEntry();
  }
}
