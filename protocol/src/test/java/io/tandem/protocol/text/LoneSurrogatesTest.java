package io.tandem.protocol.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LoneSurrogatesTest {

  @Test
  void aWholeEmojiIsText() {
    assertEquals(-1, LoneSurrogates.firstIn(""));
    assertEquals(-1, LoneSurrogates.firstIn("sum \uD83D\uDE00 \uD83D\uDE00\uD83D\uDE00"));
    assertFalse(LoneSurrogates.in("plain"));
  }

  @Test
  void halfAnEmojiIsFoundWhereverItStands() {
    assertEquals(0, LoneSurrogates.firstIn("\uD83D"));
    assertEquals(2, LoneSurrogates.firstIn("ab\uD83Dc"));
    assertEquals(0, LoneSurrogates.firstIn("\uDE00\uD83D"));
    // A low surrogate after a whole pair is lone: the pair's low half does not pair it.
    assertEquals(2, LoneSurrogates.firstIn("\uD83D\uDE00\uDE00"));
    assertEquals(1, LoneSurrogates.firstIn("x\uD83D\uD83D\uDE00"));
    assertTrue(LoneSurrogates.in("end\uD83D"));
  }
}
