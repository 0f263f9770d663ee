module cutoverbench

go 1.19
