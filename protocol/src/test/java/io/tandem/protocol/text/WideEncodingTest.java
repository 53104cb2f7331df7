package io.tandem.protocol.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class WideEncodingTest {
  private static WideEncoding of(byte[] bytes) {
    return WideEncoding.of(bytes, bytes.length);
  }

  @Test
  void eachEncodingIsToldByItsFirstBytes() {
    assertEquals(new WideEncoding(16, true, null, '{'), of("{}".getBytes(StandardCharsets.UTF_16LE)));
    assertEquals(new WideEncoding(16, false, null, '{'), of("{}".getBytes(StandardCharsets.UTF_16BE)));
    assertEquals(new WideEncoding(16, false, "FE FF", (char) 0), of("{}".getBytes(StandardCharsets.UTF_16)));
    assertEquals(new WideEncoding(32, true, null, '{'), of("{}".getBytes(Charset.forName("UTF-32LE"))));
    assertEquals(new WideEncoding(32, false, null, '{'), of("{}".getBytes(Charset.forName("UTF-32BE"))));
    assertEquals(new WideEncoding(16, true, "FF FE", (char) 0), of(new byte[] {(byte) 0xFF, (byte) 0xFE, '{', 0}));
    assertEquals(new WideEncoding(32, true, "FF FE 00 00", (char) 0), of(new byte[] {(byte) 0xFF, (byte) 0xFE, 0, 0, '{', 0, 0, 0}));
    assertEquals(new WideEncoding(32, false, "00 00 FE FF", (char) 0), of(new byte[] {0, 0, (byte) 0xFE, (byte) 0xFF}));
    assertEquals("UTF-32, big-endian, three zero bytes", of("{}".getBytes(Charset.forName("UTF-32BE"))).name() + ", "
        + of("{}".getBytes(Charset.forName("UTF-32BE"))).byteOrder() + ", " + of("{}".getBytes(Charset.forName("UTF-32BE"))).zeros());
  }

  /** UTF-8 (with its own mark or without), and text too short to tell, are no wide encoding; nor is a NUL beside a non-ASCII byte. */
  @Test
  void utf8AndTooFewBytesAreNone() {
    assertNull(of("{}".getBytes(StandardCharsets.UTF_8)));
    assertNull(of(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF, '{'}));
    assertNull(of(new byte[] {'{'}));
    assertNull(of(new byte[0]));
    assertNull(of(new byte[] {0, 0}));
    assertNull(of(new byte[] {(byte) 0xC3, 0}));
    // Binary bytes (control characters beside zeros) are no text at all: not called UTF-16 (tester42a).
    assertNull(of(new byte[] {0, 1, 2, 3}));
    assertNull(of(new byte[] {1, 0, 2, 0}));
    // Only the first bytes count: a UTF-16 pair later in UTF-8 text is that text's NUL, not its encoding.
    assertNull(of(new byte[] {'a', 'b', 'c', 0}));
    assertEquals(new WideEncoding(16, true, null, 'a'), WideEncoding.of(new byte[] {'a', 0, 'b', 0, 'c'}, 2));
  }
}
