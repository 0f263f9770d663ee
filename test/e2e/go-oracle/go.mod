module cutoveroracle

go 1.19
