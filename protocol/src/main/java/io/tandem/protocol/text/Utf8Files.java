package io.tandem.protocol.text;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
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
    Bounded bytes = new Bounded(Files.newInputStream(file));
    byte[] all;
    try (bytes) {
      all = bytes.readAllBytes();
    } catch (Overrun e) {
      throw tooLarge(what, file);
    }
    CharBuffer text = CharBuffer.allocate(all.length);
    int at = decode(all, all.length, text);
    if (at >= 0) {
      int line = 1;
      int lineStart = 0;
      for (int i = 0; i < at; i++) {
        // A line ends at \n, \r\n or a lone \r, as eachLine splits them.
        if (all[i] == '\n' || all[i] == '\r' && (i + 1 >= all.length || all[i + 1] != '\n')) {
          line++;
          lineStart = i + 1;
        }
      }
      throw notUtf8(what, file, bytes.wide(new Malformed(line, at - lineStart + 1, all[at])));
    }
    bytes.refuseWide(what, file);
    return withoutBom(text.flip().toString());
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
    Bounded bytes = new Bounded(Files.newInputStream(file));
    try (InputStream in = new BufferedInputStream(bytes)) {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      int n = 0;
      for (int b = in.read(); ; b = in.read()) {
        if (b == -1 && line.size() == 0) return;
        if (b == -1 || b == '\n' || b == '\r') {
          if (b == '\r') {
            in.mark(1);
            if (in.read() != '\n') in.reset();
          }
          CharBuffer text = CharBuffer.allocate(line.size());
          int at = decode(line.toByteArray(), line.size(), text);
          if (at >= 0) throw new Malformed(n + 1, at + 1, line.toByteArray()[at]);
          line.reset();
          if (n == 0) bytes.refuseWide(what, file);
          if (!visitor.visit(++n, n == 1 ? withoutBom(text.flip().toString()) : text.flip().toString()) || b == -1) return;
        } else {
          line.write(b);
        }
      }
    } catch (CharacterCodingException e) {
      throw notUtf8(what, file, bytes.wide(e));
    } catch (Overrun e) {
      throw tooLarge(what, file);
    }
  }

  /**
   * Decodes the first {@code length} bytes of {@code bytes} as UTF-8 into {@code out} (room for
   * {@code length} chars), with a decoder of its own: one that reports bytes that are not UTF-8, which
   * a charset's lenient form would replace with U+FFFD.
   *
   * @return -1, or the offset of the first byte that cannot stand where it is in UTF-8
   */
  private static int decode(byte[] bytes, int length, CharBuffer out) {
    ByteBuffer in = ByteBuffer.wrap(bytes, 0, length);
    CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder();
    CoderResult r = utf8.decode(in, out, true);
    if (!r.isError()) r = utf8.flush(out);
    return r.isError() ? in.position() : -1;
  }

  /** A byte that cannot stand where it is in UTF-8: its line (from 1), its place in that line (bytes, from 1) and its value. */
  static final class Malformed extends CharacterCodingException {
    private final String where;

    Malformed(int line, int column, byte value) {
      this.where = String.format("line %d, byte %d of it: 0x%02X", line, column, value & 0xff);
    }

    @Override
    public String getMessage() {
      return where;
    }
  }

  /** {@code text} without a leading byte order mark, which UTF-8 does not need and JSON parsers refuse (Python's utf-8-sig). */
  private static String withoutBom(String text) {
    return text.startsWith("\uFEFF") ? text.substring(1) : text;
  }

  /** The refusal of {@code file}, which {@code what} names, whose bytes are not UTF-8 ({@code e}). */
  public static IllegalArgumentException notUtf8(String what, Path file, CharacterCodingException e) {
    return new IllegalArgumentException(what + " " + file + ": not UTF-8 text" + (e instanceof NotUtf8ButWide u ? " but " + u.getMessage()
        : "") + " (" + (e instanceof Malformed m ? m.getMessage() + ", which cannot stand there in UTF-8; " : "")
        + "Tandem reads text files as UTF-8); save it as UTF-8", e);
  }

  /**
   * Bytes refused as UTF-8 that are UTF-16 or UTF-32, worded for a file: its {@link WideEncoding},
   * {@code "UTF-16, little-endian (...)"}; the cause of {@link #notUtf8}'s refusal of such a file, which
   * a caller reads as text in another encoding, not as a file of another kind.
   */
  public static final class NotUtf8ButWide extends CharacterCodingException {
    private final String which;

    NotUtf8ButWide(WideEncoding w) {
      this.which = w.name() + ", " + w.byteOrder() + " (" + (w.byteOrderMark() != null
          ? "it begins with the byte order mark " + w.byteOrderMark()
          : "its first character '" + w.firstCharacter() + "' " + (w.littleEndian() ? "is followed by " : "follows ") + w.zeros()) + ")";
    }

    @Override
    public String getMessage() {
      return which;
    }
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

  /** Thrown by {@link Bounded} past {@link #MAX_BYTES}, and said as {@link #tooLarge} by the methods above. */
  private static final class Overrun extends IOException {
    Overrun() {
      super("more than " + MAX_BYTES + " bytes");
    }
  }

  /**
   * A stream that fails once more than {@link #MAX_BYTES} have been read from it, and keeps its first
   * four bytes to tell UTF-16 and UTF-32 by ({@link WideEncoding}); a pipe cannot be read again for them.
   */
  private static final class Bounded extends FilterInputStream {
    private long left = MAX_BYTES;
    private final byte[] head = new byte[4];
    private int headLength;

    Bounded(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b != -1) {
        if (headLength < head.length) head[headLength++] = (byte) b;
        count(1);
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n > 0) {
        for (int i = 0; i < n && headLength < head.length; i++) head[headLength++] = b[off + i];
        count(n);
      }
      return n;
    }

    /** {@code e}, or the wide encoding the bytes read so far show: what UTF-8 refused is then that encoding. */
    CharacterCodingException wide(CharacterCodingException e) {
      WideEncoding w = WideEncoding.of(head, headLength);
      return w == null ? e : new NotUtf8ButWide(w);
    }

    /** Refuses text that decoded as UTF-8 but is UTF-16 or UTF-32 without a byte order mark (NULs between its characters). */
    void refuseWide(String what, Path file) {
      WideEncoding w = WideEncoding.of(head, headLength);
      if (w != null) throw notUtf8(what, file, new NotUtf8ButWide(w));
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
