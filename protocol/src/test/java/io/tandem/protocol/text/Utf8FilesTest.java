package io.tandem.protocol.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Utf8FilesTest {
  @TempDir Path dir;

  /** A device without end (or a pipe such as <(yes)) is refused in one line once 64 MiB are read, not read until memory runs out. */
  @Test
  void aFileWithoutEndIsRefusedAtTheCap() {
    Path zero = Path.of("/dev/zero");
    String expected = "--data /dev/zero: more than 64 MiB, the most Tandem reads from an input file; give a smaller file";
    assertEquals(expected, assertThrows(Utf8Files.TooLarge.class, () -> Utf8Files.read("--data", zero)).getMessage());
    assertEquals(expected, assertThrows(Utf8Files.TooLarge.class, () -> Utf8Files.lines("--data", zero)).getMessage());
  }

  /** A reader that has what it needs stops there: the lines after it are neither read nor judged. */
  @Test
  void eachLineStopsWhereTheVisitorSays() throws Exception {
    Path file = dir.resolve("three.txt");
    Files.writeString(file, "one\r\ntwo\nthree\n");
    List<String> seen = new ArrayList<>();
    Utf8Files.eachLine("--data", file, (n, line) -> seen.add(n + ":" + line) && n < 2);
    assertEquals(List.of("1:one", "2:two"), seen);
    assertEquals(List.of("one", "two", "three"), Utf8Files.lines("--data", file));
    assertEquals("one\r\ntwo\nthree\n", Utf8Files.read("--data", file));
  }

  @Test
  void bytesThatAreNotUtf8AreNamedAsSuch() throws Exception {
    Path file = dir.resolve("latin1.txt");
    Files.write(file, new byte[] {'c', 'a', 'f', (byte) 0xe9, '\n'});
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Utf8Files.lines("API keys file", file));
    String expected = "API keys file " + file + ": not UTF-8 text (line 1, byte 4 of it: 0xE9, which cannot stand there in UTF-8;"
        + " Tandem reads text files as UTF-8); save it as UTF-8";
    assertEquals(expected, e.getMessage());
    assertEquals(expected, assertThrows(IllegalArgumentException.class, () -> Utf8Files.read("API keys file", file)).getMessage());
  }

  /** The byte is found by its line (\n, \r\n or a lone \r ends one, in both readers) and its place in it, as an editor would look. */
  @Test
  void aByteThatIsNotUtf8IsFoundByLineAndPlace() throws Exception {
    Path file = dir.resolve("third.jsonl");
    Files.write(file, new byte[] {'a', '\r', '\n', 'b', '\r', 'c', 'a', 'f', (byte) 0xc3, '(', '\n'});
    String expected = "--data " + file + ": not UTF-8 text (line 3, byte 4 of it: 0xC3, which cannot stand there in UTF-8;"
        + " Tandem reads text files as UTF-8); save it as UTF-8";
    assertEquals(expected, assertThrows(IllegalArgumentException.class, () -> Utf8Files.read("--data", file)).getMessage());
    assertEquals(expected, assertThrows(IllegalArgumentException.class, () -> Utf8Files.lines("--data", file)).getMessage());
    // A sequence cut short by the end of the file: its first byte.
    Files.write(file, new byte[] {'x', (byte) 0xe2, (byte) 0x82});
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Utf8Files.read("--data", file)).getMessage()
        .contains("(line 1, byte 2 of it: 0xE2, "));
  }

  /** UTF-16 without its byte order mark decodes as UTF-8 (a NUL beside each ASCII character): named as UTF-16. */
  @Test
  void utf16WithoutAByteOrderMarkIsNamedAsUtf16() throws Exception {
    Path le = dir.resolve("le.yml");
    Files.write(le, "max_target_tokens: 5\n".getBytes(java.nio.charset.StandardCharsets.UTF_16LE));
    assertEquals("--config " + le + ": not UTF-8 text but UTF-16, little-endian (its first character 'm' is followed by a zero"
        + " byte) (Tandem reads text files as UTF-8); save it as UTF-8",
        assertThrows(IllegalArgumentException.class, () -> Utf8Files.read("--config", le)).getMessage());
    Path be = dir.resolve("be.jsonl");
    Files.write(be, "{\"problem\": \"x\"}\n".getBytes(java.nio.charset.StandardCharsets.UTF_16BE));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Utf8Files.lines("--data", be)).getMessage()
        .contains("not UTF-8 text but UTF-16, big-endian (its first character '{' follows a zero byte)"));
    Path le32 = dir.resolve("le32.json");
    Files.write(le32, "{}".getBytes(java.nio.charset.Charset.forName("UTF-32LE")));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Utf8Files.read("x", le32)).getMessage()
        .contains("not UTF-8 text but UTF-32, little-endian (its first character '{' is followed by three zero bytes)"));
    Path bom = dir.resolve("bom16.json");
    Files.write(bom, "{}".getBytes(java.nio.charset.StandardCharsets.UTF_16)); // FE FF first
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Utf8Files.read("x", bom)).getMessage()
        .contains("not UTF-8 text but UTF-16, big-endian (it begins with the byte order mark FE FF)"));
    Files.write(bom, new byte[] {(byte) 0xFF, (byte) 0xFE, '{', 0, '}', 0});
    assertTrue(assertThrows(IllegalArgumentException.class, () -> Utf8Files.lines("x", bom)).getMessage()
        .contains("not UTF-8 text but UTF-16, little-endian (it begins with the byte order mark FF FE)"));
  }

  /** A byte order mark is dropped; a line not read is not judged (its bytes are not UTF-8 here); a lone CR ends a line. */
  @Test
  void aBomIsDroppedAndALineNotNeededIsNotJudged() throws Exception {
    Path file = dir.resolve("bom.jsonl");
    Files.write(file, new byte[] {(byte) 0xef, (byte) 0xbb, (byte) 0xbf, '{', '}', '\r', 'x', '\n', (byte) 0xff, '\n'});
    List<String> seen = new ArrayList<>();
    Utf8Files.eachLine("--data", file, (n, line) -> seen.add(line) && n < 2);
    assertEquals(List.of("{}", "x"), seen);
    assertThrows(IllegalArgumentException.class, () -> Utf8Files.lines("--data", file), "the third line is read, and refused");
    Path json = Files.write(dir.resolve("bom.json"), new byte[] {(byte) 0xef, (byte) 0xbb, (byte) 0xbf, '[', ']'});
    assertEquals("[]", Utf8Files.read("--case", json));
  }
}
