#pragma once
double series_sum(long n, int repeats);
