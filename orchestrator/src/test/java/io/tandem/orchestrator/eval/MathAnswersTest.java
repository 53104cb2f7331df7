package io.tandem.orchestrator.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Answer extraction and MATH normalisation, on the kinds of answers MATH500 holds. */
class MathAnswersTest {

  @Test
  void theLastBoxedAnswerIsTakenWithItsNestedBraces() {
    assertEquals(Optional.of("\\frac{\\sqrt{3}}{2}"),
        MathAnswers.lastBoxed("First \\boxed{1}, then finally $\\boxed{\\frac{\\sqrt{3}}{2}}$."));
  }

  @Test
  void boxedWithASpaceAndFboxAreAnswersToo() {
    assertEquals(Optional.of("5"), MathAnswers.lastBoxed("so it is $\\boxed 5$ and done"));
    assertEquals(Optional.of("(1,2)"), MathAnswers.lastBoxed("\\fbox{(1,2)}"));
    assertEquals(Optional.of("7"), MathAnswers.lastBoxed("The final answer is \\boxed{7}."));
  }

  /** TeX's "\\boxed {5}" is the braced argument after a space, not the text "{5}" (tester61c). */
  @Test
  void aBracedBoxAfterASpaceIsTheBracesContent() {
    assertEquals(Optional.of("x+1"), MathAnswers.lastBoxed("so $\\boxed {x+1}$"));
  }

  /** A line break between \\boxed and its braces is a space too (tester61e: "{x}" was the answer). */
  @Test
  void aBracedBoxAfterALineBreakIsTheBracesContent() {
    assertEquals(Optional.of("137 \\frac{1}{2}"), MathAnswers.lastBoxed("so $\\boxed \n{137 \\frac{1}{2}}$"));
  }

  /**
   * An answer nested thousands deep, or with thousands of signs, is no number and no crash: the parser
   * recursed once per level, and one such answer overflowed the stack and ended a whole eval run (tester61e).
   */
  @Test
  void deeplyNestedAnswersAreComparedWithoutOverflowingTheStack() {
    String deep = "(".repeat(3000) + "1" + ")".repeat(3000);
    assertFalse(MathAnswers.equivalent(deep, "2"));
    assertFalse(MathAnswers.equivalent("\\sqrt{".repeat(1000) + "4" + "}".repeat(1000), "3"));
    assertFalse(MathAnswers.equivalent("2^{".repeat(5000) + "1" + "}".repeat(5000), "3"));
    assertTrue(MathAnswers.equivalent("-".repeat(50_000) + "5", "5"), "an even number of signs");
    assertFalse(MathAnswers.equivalent("x \\in " + "(".repeat(5000) + "1,2" + ")".repeat(5000), "(1,2)"));
    assertFalse(MathAnswers.equivalent("5" + ",".repeat(50_000) + ".", "6"));
  }

  /** A hedge between two answers is not the first of them (tester61c: "5\\text{ or }6" was graded right for 5). */
  @Test
  void aHedgedAnswerIsNotTheFirstOfItsChoices() {
    assertFalse(MathAnswers.isCorrect("\\boxed{5}\n\nOr maybe \\boxed{5\\text{ or }6}.", "5"));
  }

  @Test
  void noBoxOrAnUnclosedBoxIsNoAnswer() {
    assertEquals(Optional.empty(), MathAnswers.lastBoxed("The answer is 5."));
    assertEquals(Optional.empty(), MathAnswers.lastBoxed("\\boxed{\\frac{1}{2}"));
    assertFalse(MathAnswers.isCorrect("The answer is 5.", "5"));
  }

  @Test
  void aResponseIsCorrectWhenItsLastBoxMatchesTheGoldAnswer() {
    assertTrue(MathAnswers.isCorrect("Wait, \\boxed{3} is wrong.\n\nThe final answer is \\boxed{\\dfrac12}.", "\\frac{1}{2}"));
    assertFalse(MathAnswers.isCorrect("\\boxed{4} ... no: \\boxed{3}", "4"));
  }

  /**
   * Each row: a model's answer, the gold answer, and whether MATH evaluators count them equal (a
   * mixed number is its sum, as MATH writes them; a list without brackets and a set in any order).
   */
  @ParameterizedTest(name = "[{index}] {0} vs {1} -> {2}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      5                                   | 5                          | true
      5                                   | 6                          | false
      \\dfrac{1}{2}                       | \\frac{1}{2}               | true
      \\tfrac12                           | \\frac{1}{2}               | true
      \\frac12                            | \\frac{1}{2}               | true
      \\frac1{72}                         | \\frac{1}{72}              | true
      0.5                                 | \\frac{1}{2}               | true
      .5                                  | \\frac12                   | true
      1/2                                 | \\frac{1}{2}               | true
      0.75                                | \\frac{3}{4}               | true
      -\\frac{1}{2}                       | \\frac{-1}{2}              | true
      \\frac{2}{3}                        | 0.67                       | false
      \\left( 3, \\frac{\\pi}{2} \\right) | (3,\\frac{\\pi}{2})        | true
      (3, \\frac{\\pi}{2})                | (3,\\frac{\\pi}{3})        | false
      [-2, 7)                             | [-2,7)                     | true
      [-2, 7)                             | (-2,7)                     | false
      (0.5, 2)                            | (\\frac{1}{2},2)           | true
      "\\{1, 2, 3\\}"                     | "\\{1,2,3\\}"              | true
      90^\\circ                           | 90                         | true
      90^{\\circ}                         | 90                         | true
      \\$18.90                            | 18.90                      | true
      \\$32,348                           | 32348                      | true
      10\\%                               | 10                         | true
      25\\text{ cm}                       | 25                         | true
      12 \\text{ inches}                  | 12                         | true
      4\\mbox{ feet}                      | 4                          | true
      50\\text{ m}^2                      | 50                         | true
      \\text{Evelyn}                      | Evelyn                     | true
      \\text{(C)}                         | C                          | true
      (C)                                 | C                          | true
      x = 5                               | 5                          | true
      k=-3                                | -3                         | true
      y = 2x + 3                          | 2x+3                       | true
      2x + 3                              | 2x+4                       | false
      \\sqrt2                             | \\sqrt{2}                  | true
      \\frac{\\sqrt3}{2}                  | \\frac{\\sqrt{3}}{2}       | true
      2\\sqrt{2}                          | \\sqrt{8}                  | true
      \\frac{\\sqrt{2}}{2}                | \\frac{1}{\\sqrt{2}}       | true
      3\\sqrt{13}                         | 3\\sqrt{12}                | false
      12.                                 | 12                         | true
      1{,}000                             | 1000                       | true
      "1,000"                             | 1000                       | true
      \\left[ 1, 2 \\right]               | [1,2]                      | true
      6\\pi                               | 6 \\pi                     | true
      \\pi                                | 3.14                       | false
      2^{10}                              | 1024                       | true
      \\dfrac{9}{7}                       | \\frac{9}{7}               | true
      x^2+7x+10                           | x^2 + 7x + 10              | true
      \\infty                             | \\infty                    | true
      "(-\\infty, 0) \\cup (0, \\infty)"  | "(-\\infty,0)\\cup(0,\\infty)" | true
      \\text{odd}                         | \\text{even}               | false
      1,2                                 | 2,1                        | true
      "1,1,2"                             | "1,2,2"                    | false
      "-2,1"                              | "1,-2"                     | true
      "\\{3,2,1\\}"                       | "\\{1,2,3\\}"              | true
      "(1,2)"                             | "(2,1)"                    | false
      "[-2,7]"                            | "x \\in [-2,7]"           | true
      \\frac45                            | 1\\frac{4}{5}              | false
      0.8                                 | 1\\frac{4}{5}              | false
      4\\frac{1}{5}                       | 1\\frac{4}{5}              | false
      \\frac95                            | 1\\frac{4}{5}              | true
      1.8                                 | 1\\frac{4}{5}              | true
      \\frac{275}{2}                      | 137 \\frac{1}{2}           | true
      68.5                                | 137 \\frac{1}{2}           | false
      1\\frac{1}{2}                       | \\frac12                   | false
      4\\frac{2}{3}                       | \\frac{14}{3}              | true
      5\\text{ or }7                      | 5                          | false
      5 \\text{ and } 12                  | 5                          | false
      5.4 \\text{ cents}                  | 5.4                        | true
      4210_5                              | 4210_{5}                   | true
      52_{8}                              | 52_8                       | true
      \\text{Ellipse}                     | \\text{ellipse}            | true
      9007199254740993                    | 9007199254740992           | false
      5\\text{ or 7}                      | 5                          | false
      5\\text{ (or 7)}                    | 5                          | false
      5\\text{ or seven}                  | 5                          | false
      \\text{even}\\text{ (or odd)}         | \\text{even}               | false
      5.4\\text{ cents}.                  | 5.4 \\text{ cents}         | true
      864\\text{ in}^2.                   | 864                        | true
      "10,080\\text{ ways}."              | "10,\\!080"               | true
      5\\text{ m/s}                       | 5                          | true
      "\\{3,5,7\\}"                       | "3, 5, 7"                  | true
      "x=2, y=1"                          | "x=1, y=2"                 | false
      ab                                  | AB                         | false
      3 \\cdot 4                          | 12                         | true
      \\!1\\,000                          | 1000                       | true
      5\\ \\text{cm}                      | 5                          | true
      "5\\ "                               | 5                          | true
      \\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix} | \\begin{pmatrix}1/5\\\\-18/5\\end{pmatrix} | true
      \\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix} | \\begin{pmatrix}1&2\\\\3&4\\end{pmatrix} | true
      \\begin{pmatrix} 12 \\end{pmatrix} | \\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix} | false
      1000001                             | 1000000                    | false
      10^{-7}                             | 0                          | false
      \\frac{1}{1000000}                 | 0                          | false
      0.1000001                           | 0.1                        | false
      """)
  void answersCompareAsMathEvaluatorsCompareThem(String answer, String gold, boolean equal) {
    assertEquals(equal, MathAnswers.equivalent(answer, gold),
        () -> answer + " -> " + MathAnswers.normalize(answer) + " vs " + gold + " -> " + MathAnswers.normalize(gold));
  }
}
