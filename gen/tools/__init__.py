"""Tools around the compiler: backtest, diff, probe and their clients. Nothing in the compile path imports them."""
