package io.tandem.protocol.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.protocol.Token;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class StopStringsTest {

  @Test
  void findsAStopAndTellsWhereToCutWithAndWithoutIt() {
    StopStrings stops = new StopStrings(List.of("\n\n"));
    String text = "So x = 5.\n\nWait";
    StopStrings.Match m = stops.find(text).orElseThrow();
    assertEquals(new StopStrings.Match("\n\n", 9, 11), m);
    assertEquals("So x = 5.", m.before(text));
    assertEquals("So x = 5.\n\n", m.through(text));
  }

  @Test
  void aStopSplitAcrossTokensIsFoundWhenItsSecondHalfArrives() {
    StopStrings stops = new StopStrings(List.of("\n\n"));
    StringBuilder text = new StringBuilder();
    String[] tokens = {"So", " x", ".\n", "\nWait"};
    Optional<StopStrings.Match> found = Optional.empty();
    int at = -1;
    for (int i = 0; i < tokens.length && found.isEmpty(); i++) {
      text.append(tokens[i]);
      found = stops.find(text, tokens[i].length());
      at = i;
    }
    assertEquals(3, at, "found on the token that completes it");
    assertEquals(new StopStrings.Match("\n\n", 5, 7), found.orElseThrow());
  }

  @Test
  void theStopThatEndsFirstWinsWhateverTheOrderOfTheList() {
    StopStrings stops = new StopStrings(List.of("Let me verify", "verify", "ver"));
    StopStrings.Match m = stops.find("I should verify this").orElseThrow();
    assertEquals(new StopStrings.Match("ver", 9, 12), m);
    StopStrings both = new StopStrings(List.of("\n", "a\n"));
    assertEquals(new StopStrings.Match("a\n", 1, 3), both.find("xa\n").orElseThrow(),
        "same end: the longer one, which starts first");
  }

  @Test
  void onlyTheTailTouchedByNewTextIsSearched() {
    StopStrings stops = new StopStrings(List.of("ab"));
    assertEquals(Optional.empty(), stops.find("ab and more", 4), "an old match was reported before");
    assertEquals(new StopStrings.Match("ab", 6, 8), stops.find("ab xy ab", 2).orElseThrow(),
        "the new match, not the old one at 0");
  }

  @Test
  void textWithoutStopsHasNoMatch() {
    assertTrue(new StopStrings(List.of("</answer>")).find("no end here").isEmpty());
    assertTrue(new StopStrings(List.of()).find("anything").isEmpty());
  }

  @Test
  void aTailThatMayBeginAStopIsReportedForHoldingBack() {
    StopStrings stops = new StopStrings(List.of("</answer>", "\n\n"));
    assertEquals(3, stops.partialMatchLength("42</a"));
    assertEquals(1, stops.partialMatchLength("42.\n"));
    assertEquals(0, stops.partialMatchLength("42."));
  }

  @Test
  void tokensThroughFirstMatchCountsTheTokenThatCompletesASplitStop() {
    StopStrings triggers = new StopStrings(List.of("\n\n"));
    List<Token> tokens = List.of(new Token(1, "So x"), new Token(2, ".\n"), new Token(3, "\nWait"), new Token(4, "\n\n"));
    assertEquals(3, triggers.tokensThroughFirstMatch(tokens));
    assertEquals(-1, triggers.tokensThroughFirstMatch(tokens.subList(0, 2)));
    assertEquals(-1, new StopStrings(List.of()).tokensThroughFirstMatch(tokens));
  }

  @Test
  void emptyStopStringsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> new StopStrings(List.of("")));
  }
}
