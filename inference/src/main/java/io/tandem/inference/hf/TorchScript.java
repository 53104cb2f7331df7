package io.tandem.inference.hf;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
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
 * TorchScript modules written here as source, for what DJL's PyTorch JNI has no binding for (an
 * op it does not wrap) or does slowly (many small ops, each a JNI call with its Java bookkeeping,
 * where one TorchScript method runs them all in libtorch's interpreter). A module is the archive
 * {@code torch.jit.save} writes for a scripted {@code nn.Module} without parameters: its code,
 * its pickled state and the format version, loaded by DJL like any TorchScript file.
 */
final class TorchScript {

  /** Owns the loaded modules, which live as long as the process. */
  private static final PtNDManager MANAGER = (PtNDManager) NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch");

  private TorchScript() {}

  /**
   * Loads a module of class {@code __torch__.NAME} with {@code methods}, TorchScript source
   * indented by two spaces, as {@code torch.jit.save} writes a class's methods (each with {@code
   * self: __torch__.NAME} as its first parameter).
   *
   * @throws ai.djl.engine.EngineException when libtorch rejects the code (an unknown op, a type error)
   */
  static PtSymbolBlock load(String name, String methods) {
    String code = "class " + name + "(Module):\n"
        + "  __parameters__ = []\n"
        + "  __buffers__ = []\n"
        + "  training : bool\n"
        + "  _is_full_backward_hook : Optional[bool]\n"
        + "  def forward(self: __torch__." + name + ", x: Tensor) -> Tensor:\n"
        + "    return x\n"
        + methods.indent(2);
    try {
      return JniUtils.loadModule(MANAGER, new ByteArrayInputStream(archive(name, code)), false, false);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The archive: code, state, constants, version (3, what scripted modules without new ops get). */
  private static byte[] archive(String name, String code) throws IOException {
    String dir = name.toLowerCase(java.util.Locale.ROOT) + "/";
    ByteArrayOutputStream zip = new ByteArrayOutputStream();
    try (ZipOutputStream z = new ZipOutputStream(zip)) {
      entry(z, dir + "version", "3\n".getBytes(StandardCharsets.US_ASCII));
      entry(z, dir + "byteorder", "little".getBytes(StandardCharsets.US_ASCII));
      entry(z, dir + "constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}); // pickle: ()
      entry(z, dir + "data.pkl", state(name));
      entry(z, dir + "code/__torch__.py", code.getBytes(StandardCharsets.UTF_8));
    }
    return zip.toByteArray();
  }

  /**
   * The module object as a protocol-2 pickle: {@code __torch__.NAME} with its two attributes,
   * {@code training = True} and {@code _is_full_backward_hook = None}.
   */
  private static byte[] state(String name) {
    ByteArrayOutputStream p = new ByteArrayOutputStream();
    p.writeBytes(new byte[] {(byte) 0x80, 2}); // PROTO 2
    p.writeBytes(("c__torch__\n" + name + "\n").getBytes(StandardCharsets.US_ASCII)); // GLOBAL
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
