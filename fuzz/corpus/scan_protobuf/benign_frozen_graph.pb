

xPlaceholder*
dtype0

wConst*
dtype0

mmMatMulxw

bConst*
dtype0

yAddmmb"í