package io.tandem.protocol.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ClippedTest {

  @Test
  void aShortValueIsQuotedWholeALongOneCutAtSixtyFourCharacters() {
    assertEquals("null", Clipped.of(null));
    assertEquals("x".repeat(64), Clipped.of("x".repeat(64)));
    assertEquals("x".repeat(64) + "...", Clipped.of("x".repeat(65)));
  }

  /** An emoji is two chars in Java: a cut between them would leave half a character ('?' when printed). */
  @Test
  void theCutDoesNotSplitASurrogatePair() {
    String s = "x".repeat(63) + "\uD83D\uDE00" + "tail";
    assertEquals("x".repeat(63) + "...", Clipped.of(s));
    assertEquals("x".repeat(62) + "\uD83D\uDE00...", Clipped.of("x".repeat(62) + "\uD83D\uDE00" + "tail"));
  }
}
