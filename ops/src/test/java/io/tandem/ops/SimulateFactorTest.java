package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * The factor {@code simulate --time-scale} says the models run faster by, and Tandem's own work
 * weighs more by (README, "Sizing a deployment": "and the command says so"): tester53a's 0.01 was
 * said as 1 times, 0.005 as 2, the zeros of a whole number stripped as a fraction's.
 */
class SimulateFactorTest {
  @Test
  void aFactorKeepsTheZerosOfItsWholePart() {
    assertEquals("100", SimulateCommand.fmt(1 / 0.01));
    assertEquals("200", SimulateCommand.fmt(1 / 0.005));
    assertEquals("400", SimulateCommand.fmt(1 / 0.0025));
    assertEquals("10", SimulateCommand.fmt(10));
    assertEquals("2", SimulateCommand.fmt(2));
    assertEquals("2.5", SimulateCommand.fmt(2.5));
    assertEquals("33.3", SimulateCommand.fmt(100 / 3.0));
    assertEquals("1e+09", SimulateCommand.fmt(1e9));
    assertEquals("1.5e+07", SimulateCommand.fmt(1.5e7));
  }
}
