package io.tandem.protocol.text;

import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A text file read as UTF-8, whose bytes that are not UTF-8 are a mistake said as one: the JDK's
 * own message, {@code Input length = 1}, names neither the file nor the problem.
 *
 * <p>An input file may be a pipe or a device ({@code --data <(head -5 math.jsonl)}), which has no
 * size to check first: at most {@link #MAX_BYTES} are read from any file, and one that holds more
 * is refused when the read reaches that point, so that {@code /dev/zero} or {@code <(yes)} ends in
 * one line, not in an {@link OutOfMemoryError} or a read without end. A leading byte order mark is
 * dropped, as Python's {@code utf-8-sig} drops it (Windows editors write one; JSON parsers refuse it).
 */
public final class Utf8Files {
  private Utf8Files() {}

  /** The most bytes read from one input file: 64 MiB (MATH500's JSONL is under 0.5 MiB). */
  public static final long MAX_BYTES = 64L << 20;

  /** What {@link #eachLine} is given: one line, without its terminator, and its number from 1. */
  @FunctionalInterface
  public interface LineVisitor {
    /** @return whether to read on; {@code false} stops the read there (the rest of the file is not read) */
    boolean visit(int lineNumber, String line);
  }

  /**
   * The text of {@code file}, which {@code what} names ({@code "--data"}, {@code "API keys file"}).
   *
   * @throws IllegalArgumentException {@code WHAT FILE: not UTF-8 text ...; save it as UTF-8}, or
   *     {@code WHAT FILE: more than 64 MiB ...} when it holds more than {@link #MAX_BYTES}
   * @throws IOException when it cannot be read at all
   */
  public static String read(String what, Path file) throws IOException {
    StringBuilder text = new StringBuilder();
    try (BufferedReader r = open(what, file)) {
      char[] buf = new char[8192];
      for (int n; (n = r.read(buf)) != -1; ) text.append(buf, 0, n);
    } catch (CharacterCodingException e) {
      throw notUtf8(what, file, withBom(file, e));
    } catch (Overrun e) {
      throw tooLarge(what, file);
    }
    CharacterCodingException utf16 = utf16(text);
    if (utf16 != null) throw notUtf8(what, file, utf16);
    return withoutBom(text.toString());
  }

  /** {@link #read}, as lines. */
  public static List<String> lines(String what, Path file) throws IOException {
    List<String> lines = new ArrayList<>();
    eachLine(what, file, (n, line) -> lines.add(line));
    return lines;
  }

  /**
   * Reads {@code file} a line at a time until {@code visitor} says stop or the file ends, so that a
   * command that needs its first lines ({@code eval --limit 5}) reads no more than those.
   *
   * @throws IllegalArgumentException as {@link #read}; and whatever {@code visitor} throws
   * @throws IOException when it cannot be read at all
   */
  public static void eachLine(String what, Path file, LineVisitor visitor) throws IOException {
    // Split as bytes and decoded a line at a time, so that a line after the last one needed is not
    // judged: '\n' and '\r' never occur inside a UTF-8 sequence.
    CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder();
    try (InputStream in = new BufferedInputStream(new Bounded(Files.newInputStream(file)))) {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      int n = 0;
      for (int b = in.read(); ; b = in.read()) {
        if (b == -1 && line.size() == 0) return;
        if (b == -1 || b == '\n' || b == '\r') {
          if (b == '\r') {
            in.mark(1);
            if (in.read() != '\n') in.reset();
          }
          String text = utf8.decode(ByteBuffer.wrap(line.toByteArray())).toString();
          line.reset();
          if (n == 0 && utf16(text) != null) throw notUtf8(what, file, utf16(text));
          if (!visitor.visit(++n, n == 1 ? withoutBom(text) : text) || b == -1) return;
        } else {
          line.write(b);
        }
      }
    } catch (CharacterCodingException e) {
      throw notUtf8(what, file, withBom(file, e));
    } catch (Overrun e) {
      throw tooLarge(what, file);
    }
  }

  /**
   * {@code e}, or what the byte order mark {@code file} begins with says it is (UTF-16 or UTF-32,
   * either byte order: Windows PowerShell 5's {@code Out-File} writes UTF-16 with one), whose first
   * byte (FF, FE, 00) is what UTF-8 refused.
   */
  private static CharacterCodingException withBom(Path file, CharacterCodingException e) {
    byte[] head = new byte[4];
    int n = 0;
    try (InputStream in = Files.newInputStream(file)) {
      for (int r; n < 4 && (r = in.read(head, n, 4 - n)) > 0; ) n += r;
    } catch (IOException notAgain) {
      return e;
    }
    String bom = n >= 4 && head[0] == (byte) 0xFF && head[1] == (byte) 0xFE && head[2] == 0 && head[3] == 0
        ? "UTF-32, little-endian (it begins with the byte order mark FF FE 00 00)"
        : n >= 4 && head[0] == 0 && head[1] == 0 && head[2] == (byte) 0xFE && head[3] == (byte) 0xFF
            ? "UTF-32, big-endian (it begins with the byte order mark 00 00 FE FF)"
        : n >= 2 && head[0] == (byte) 0xFF && head[1] == (byte) 0xFE ? "UTF-16, little-endian (it begins with the byte order mark FF FE)"
        : n >= 2 && head[0] == (byte) 0xFE && head[1] == (byte) 0xFF ? "UTF-16, big-endian (it begins with the byte order mark FE FF)"
        : null;
    return bom == null ? e : new Utf16(bom);
  }

  /** {@code text} without a leading byte order mark, which UTF-8 does not need and JSON parsers refuse (Python's utf-8-sig). */
  private static String withoutBom(String text) {
    return text.startsWith("\uFEFF") ? text.substring(1) : text;
  }

  /** The refusal of {@code file}, which {@code what} names, whose bytes are not UTF-8 ({@code e}). */
  public static IllegalArgumentException notUtf8(String what, Path file, CharacterCodingException e) {
    return new IllegalArgumentException(what + " " + file + ": not UTF-8 text" + (e instanceof Utf16 u ? " but " + u.getMessage()
        : "") + " (Tandem reads text files as UTF-8); save it as UTF-8", e);
  }

  /**
   * UTF-16 (or UTF-32) text: without a byte order mark (Windows PowerShell 5's {@code >}, {@code iconv -t UTF-16LE}),
   * which decodes as UTF-8 to text with a NUL after or before each ASCII character: told by its first
   * two characters, one of them ASCII and the other NUL, as RFC 4627 (section 3) told JSON's
   * encodings apart. One with its byte order mark is no UTF-8 at all, and refused as such.
   */
  static final class Utf16 extends CharacterCodingException {
    private final String which;

    Utf16(String which) {
      this.which = which;
    }

    @Override
    public String getMessage() {
      return which;
    }
  }

  private static Utf16 utf16(CharSequence text) {
    if (text.length() < 2) return null;
    char a = text.charAt(0);
    char b = text.charAt(1);
    boolean four = text.length() >= 4;
    if (four && a != 0 && a < 0x80 && b == 0 && text.charAt(2) == 0 && text.charAt(3) == 0)
      return new Utf16("UTF-32, little-endian (its first character '" + a + "' is followed by three zero bytes)");
    if (four && a == 0 && b == 0 && text.charAt(2) == 0 && text.charAt(3) != 0 && text.charAt(3) < 0x80)
      return new Utf16("UTF-32, big-endian (its first character '" + text.charAt(3) + "' follows three zero bytes)");
    if (a != 0 && a < 0x80 && b == 0) return new Utf16("UTF-16, little-endian (its first character '" + a + "' is followed by a zero byte)");
    if (a == 0 && b != 0 && b < 0x80) return new Utf16("UTF-16, big-endian (its first character '" + b + "' follows a zero byte)");
    return null;
  }

  /** The refusal of {@code file}, which {@code what} names, that holds more than {@link #MAX_BYTES}. */
  public static TooLarge tooLarge(String what, Path file) {
    return new TooLarge(what + " " + file + ": more than " + (MAX_BYTES >> 20)
        + " MiB, the most Tandem reads from an input file; give a smaller file");
  }

  /** A file that holds more than {@link #MAX_BYTES}: a caller that names the file otherwise says it again with {@link #tooLarge}. */
  public static final class TooLarge extends IllegalArgumentException {
    TooLarge(String message) {
      super(message);
    }
  }

  private static BufferedReader open(String what, Path file) throws IOException {
    // A decoder of its own reports bytes that are not UTF-8 (InputStreamReader's charset form would replace them).
    return new BufferedReader(new InputStreamReader(new Bounded(Files.newInputStream(file)),
        StandardCharsets.UTF_8.newDecoder()));
  }

  /** Thrown by {@link Bounded} past {@link #MAX_BYTES}, and said as {@link #tooLarge} by the methods above. */
  private static final class Overrun extends IOException {
    Overrun() {
      super("more than " + MAX_BYTES + " bytes");
    }
  }

  /** A stream that fails once more than {@link #MAX_BYTES} have been read from it. */
  private static final class Bounded extends FilterInputStream {
    private long left = MAX_BYTES;

    Bounded(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b != -1) count(1);
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n > 0) count(n);
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long skipped = super.skip(n);
      count(skipped);
      return skipped;
    }

    private void count(long n) throws Overrun {
      left -= n;
      if (left < 0) throw new Overrun();
    }
  }
}
