package io.tandem.protocol.text;

/**
 * UTF-16 or UTF-32, told from UTF-8 by a text's first bytes: the byte order mark it begins with
 * (FF FE, FE FF, FF FE 00 00, 00 00 FE FF: Windows PowerShell 5's {@code Out-File} writes UTF-16 with
 * one), or, without one, an ASCII character beside one or three zero bytes (PowerShell 5's {@code >},
 * {@code iconv -t UTF-16LE}), the way RFC 4627 (section 3) told JSON's encodings apart. Such text
 * decodes as UTF-8 only up to its first FF or FE, or to text with NULs between its characters, so a
 * reader of UTF-8 names it rather than saying only "not UTF-8". The one rule for request bodies and
 * input files; each words it for its reader.
 *
 * @param bits 16 or 32
 * @param littleEndian the byte order
 * @param byteOrderMark the mark it begins with, as hex bytes ({@code "FF FE"}), or null when told by
 *     {@code firstCharacter}
 * @param firstCharacter the ASCII character its first bytes hold, or 0 when it begins with a mark
 */
public record WideEncoding(int bits, boolean littleEndian, String byteOrderMark, char firstCharacter) {

  /** {@code "UTF-16"} or {@code "UTF-32"}. */
  public String name() {
    return "UTF-" + bits;
  }

  /** {@code "little-endian"} or {@code "big-endian"}. */
  public String byteOrder() {
    return littleEndian ? "little-endian" : "big-endian";
  }

  /** The zero bytes beside {@link #firstCharacter}: {@code "a zero byte"} or {@code "three zero bytes"}. */
  public String zeros() {
    return bits == 16 ? "a zero byte" : "three zero bytes";
  }

  /**
   * The wide encoding the first {@code length} bytes of {@code head} show, or null for none (UTF-8,
   * or too few bytes to tell); four bytes are enough.
   */
  public static WideEncoding of(byte[] head, int length) {
    if (length < 2) return null;
    int a = head[0] & 0xff;
    int b = head[1] & 0xff;
    boolean four = length >= 4;
    int c = four ? head[2] & 0xff : -1;
    int d = four ? head[3] & 0xff : -1;
    if (a == 0xFF && b == 0xFE && c == 0 && d == 0) return new WideEncoding(32, true, "FF FE 00 00", (char) 0);
    if (a == 0 && b == 0 && c == 0xFE && d == 0xFF) return new WideEncoding(32, false, "00 00 FE FF", (char) 0);
    if (a == 0xFF && b == 0xFE) return new WideEncoding(16, true, "FF FE", (char) 0);
    if (a == 0xFE && b == 0xFF) return new WideEncoding(16, false, "FE FF", (char) 0);
    if (ascii(a) && b == 0 && c == 0 && d == 0) return new WideEncoding(32, true, null, (char) a);
    if (a == 0 && b == 0 && c == 0 && ascii(d)) return new WideEncoding(32, false, null, (char) d);
    if (ascii(a) && b == 0) return new WideEncoding(16, true, null, (char) a);
    if (a == 0 && ascii(b)) return new WideEncoding(16, false, null, (char) b);
    return null;
  }

  /** A character a text begins with: printable ASCII or whitespace (a control character beside zeros is binary, not text). */
  private static boolean ascii(int b) {
    return b >= 0x20 && b < 0x7f || b == '\t' || b == '\n' || b == '\r';
  }
}
